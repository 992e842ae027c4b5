#include "bench/planner/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/address.h"
#include "proto/validation.h"

namespace canopy::bench {
namespace {

constexpr int kDataPortBase = 10000;
constexpr int kClientPortBase = 35000;
// Pairs sampled to judge the coordinates' estimates.
constexpr int kEstimateSamples = 20000;

int Digits(int count) { return count <= 1 ? 1 : static_cast<int>(std::to_string(count - 1).size()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Scenario>> Scenario::Create(const ScenarioOptions& options) {
  std::remove(options.store_path.c_str());
  absl::StatusOr<std::unique_ptr<controller::PolicyStore>> store =
      controller::PolicyStore::Open(options.store_path);
  if (!store.ok()) return store.status();
  std::unique_ptr<Scenario> scenario(new Scenario(options, *std::move(store)));
  controller::ControllerOptions controller_options;
  controller_options.planner.probes.full_mesh_max_nodes = options.full_mesh_max_nodes;
  if (options.probe_nearest > 0) controller_options.planner.probes.nearest = options.probe_nearest;
  if (options.probe_random >= 0) controller_options.planner.probes.random = options.probe_random;
  absl::StatusOr<std::unique_ptr<controller::ControllerCore>> core =
      controller::ControllerCore::Create(controller_options, *scenario->store_);
  if (!core.ok()) return core.status();
  scenario->core_ = *std::move(core);
  if (options.profile != v1::TREE_PROFILE_LATENCY) {
    for (const std::string& group : scenario->groups_) {
      v1::GroupPolicy policy;
      policy.set_group(group);
      policy.set_profile(options.profile);
      if (absl::Status s = scenario->core_->SetPolicy(policy); !s.ok()) return s;
    }
  }
  return scenario;
}

Scenario::Scenario(const ScenarioOptions& options,
                   std::unique_ptr<controller::PolicyStore> store)
    : options_(options),
      store_(std::move(store)),
      model_(options.nodes, options.seed),
      now_(absl::FromUnixSeconds(1'700'000'000)) {
  const int node_digits = Digits(options.nodes);
  const int group_digits = std::max(3, Digits(options.groups));
  for (int i = 0; i < options.nodes; ++i) {
    ids_.push_back(absl::StrFormat("n%0*d", node_digits, i));
  }
  for (int g = 0; g < options.groups; ++g) {
    groups_.push_back(absl::StrFormat("g%0*d", group_digits, g));
  }
}

Scenario::~Scenario() {
  core_.reset();
  store_.reset();
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    std::remove((options_.store_path + suffix).c_str());
  }
}

absl::Time Scenario::Tick() {
  now_ += absl::Milliseconds(1);
  return now_;
}

int Scenario::IndexOf(const std::string& id) const {
  int index = 0;
  if (id.size() < 2 || id[0] != 'n' || !absl::SimpleAtoi(id.substr(1), &index) || index < 0 ||
      index >= node_count()) {
    return -1;
  }
  return index;
}

absl::Status Scenario::AttachAll() {
  for (int i = 0; i < node_count(); ++i) {
    v1::NodeHello hello;
    hello.set_node_id(ids_[i]);
    hello.set_data_address(absl::StrCat("127.0.0.1:", kDataPortBase + i));
    hello.set_client_address(absl::StrCat("127.0.0.1:", kClientPortBase + i));
    hello.set_max_fanout(options_.max_fanout);
    if (absl::Status s = ValidateNodeId(hello.node_id()); !s.ok()) return s;
    for (const std::string& address : {hello.data_address(), hello.client_address()}) {
      if (absl::StatusOr<HostPort> hp = ParseHostPort(address); !hp.ok()) return hp.status();
    }
    channels_.push_back(std::make_unique<CountingChannel>());
    absl::StatusOr<uint64_t> session = core_->Attach(hello, channels_.back().get(), Tick());
    if (!session.ok()) return session.status();
    sessions_.push_back(*session);
  }
  return absl::OkStatus();
}

OverlayReport Scenario::MeasureOverlay() {
  OverlayReport report;
  const int n = node_count();
  report.full_mesh = n <= options_.full_mesh_max_nodes;
  if (report.full_mesh) {
    ReportRing();
    report.rtt_reports = n;
    report.pairs_reported = static_cast<int64_t>(n) * (n / 2);
    report.peers_per_node_max = report.peers_per_node_mean = n / 2;
    return report;
  }
  std::vector<VivaldiClient> clients;
  clients.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) clients.emplace_back(options_.seed * 1000003u + i);
  for (int round = 0; round < options_.probe_rounds; ++round) ProbeRound(clients, report);
  int64_t peers = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t k = channels_[i]->probe_peers().peers_size();
    peers += k;
    report.peers_per_node_max = std::max(report.peers_per_node_max, k);
  }
  report.peers_per_node_mean = static_cast<double>(peers) / n;
  Random random(options_.seed ^ 0x5EEDC0DEull);
  std::vector<double> errors;
  for (int s = 0; s < kEstimateSamples && n > 1; ++s) {
    const int a = static_cast<int>(random.Uniform(n));
    const int b = static_cast<int>(random.Uniform(n));
    if (a == b) continue;
    const double rtt = static_cast<double>(model_.RttUs(a, b));
    errors.push_back(std::abs(EstimatedRttUs(clients[a].coordinate(), clients[b].coordinate()) -
                              rtt) /
                     rtt);
  }
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    report.estimate_error_p50 = errors[errors.size() / 2];
    report.estimate_error_p90 = errors[errors.size() * 9 / 10];
  }
  return report;
}

void Scenario::ReportRing() {
  const int n = node_count();
  for (int i = 0; i < n; ++i) {
    v1::RttReport report;
    for (int k = 1; k <= n / 2; ++k) {
      const int j = (i + k) % n;
      v1::PeerRtt* peer = report.add_peers();
      peer->set_node_id(ids_[j]);
      peer->set_rtt_us(model_.RttUs(i, j));
    }
    core_->OnRtts(sessions_[i], report, Tick());
  }
}

void Scenario::ProbeRound(std::vector<VivaldiClient>& clients, OverlayReport& report) {
  for (int i = 0; i < node_count(); ++i) {
    const v1::ProbePeers peers = channels_[i]->probe_peers();
    v1::RttReport rtts;
    bool learnt = false;
    for (const v1::Hop& hop : peers.peers()) {
      const int j = IndexOf(hop.node_id());
      if (j < 0) continue;
      const uint64_t rtt = model_.RttUs(i, j);
      NetworkCoordinate theirs;  // a peer without one is at the origin
      if (hop.has_coordinate()) {
        if (absl::StatusOr<NetworkCoordinate> c = CoordinateFromProto(hop.coordinate()); c.ok()) {
          theirs = *c;
        }
      }
      for (int s = 0; s < options_.samples_per_round; ++s) {
        learnt |= clients[i].Observe(hop.node_id(), theirs, static_cast<double>(rtt));
      }
      v1::PeerRtt* peer = rtts.add_peers();
      peer->set_node_id(hop.node_id());
      peer->set_rtt_us(rtt);
    }
    if (learnt) *rtts.mutable_coordinate() = CoordinateToProto(clients[i].coordinate());
    ++report.rtt_reports;
    report.pairs_reported += rtts.peers_size();
    core_->OnRtts(sessions_[i], rtts, Tick());
  }
}

void Scenario::PublishAllMemberships(const MembershipModel& model) {
  for (int i = 0; i < node_count(); ++i) PublishMembership(model, i);
}

void Scenario::PublishMembership(const MembershipModel& model, int node) {
  v1::MembershipReport report;
  report.set_report_seq(++report_seq_);
  for (int g : model.GroupsOf(node)) {
    v1::GroupMembership* m = report.add_groups();
    m->set_group(groups_[g]);
    m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);  // every source
  }
  const absl::Time now = Tick();
  core_->OnMembership(sessions_[node], report, now);
}

void Scenario::PublishAllSources(Random& random) {
  std::map<int, v1::SourceReport> reports;
  for (int g = 0; g < group_count(); ++g) {
    const int ingress = static_cast<int>(random.Uniform(static_cast<uint64_t>(node_count())));
    v1::SourceKey* key = reports[ingress].add_sources();
    key->set_group(groups_[g]);
    key->set_source(absl::StrCat("src-", groups_[g]));
  }
  for (const auto& [node, report] : reports) core_->OnSources(sessions_[node], report, Tick());
}

uint64_t Scenario::TablesPushed() const {
  uint64_t total = 0;
  for (const auto& c : channels_) total += c->tables();
  return total;
}

uint64_t Scenario::FlowEntriesPushed() const {
  uint64_t total = 0;
  for (const auto& c : channels_) total += c->flow_entries();
  return total;
}

TreeShape Scenario::Shape() const {
  TreeShape shape;
  for (const std::string& group : groups_) {
    v1::GetTreeRequest request;
    request.set_group(group);
    absl::StatusOr<v1::GetTreeResponse> response = core_->GetTree(request);
    if (!response.ok()) continue;  // no members and no sources
    for (const v1::SourceTree& t : response->trees()) {
      ++shape.trees;
      std::map<std::string, std::string> parent;
      std::map<std::string, int64_t> true_rtt;  // of the edge to the parent
      for (const v1::TreeEdge& e : t.edges()) {
        parent[e.child()] = e.parent();
        ++shape.edges;
        shape.cost_us += e.cost();
        const int a = IndexOf(e.parent()), b = IndexOf(e.child());
        if (a >= 0 && b >= 0) {
          true_rtt[e.child()] = static_cast<int64_t>(model_.RttUs(a, b));
          shape.true_cost_us += true_rtt[e.child()];
        }
        if (e.parent() != t.root()) ++shape.relayed_edges;
      }
      for (const std::string& receiver : t.receivers()) {
        if (receiver == t.root()) continue;
        ++shape.receivers;
        int hops = 0;
        for (auto it = parent.find(receiver); it != parent.end() && hops <= t.edges_size();
             it = parent.find(it->second), ++hops) {
          shape.true_delay_sum_us += true_rtt[it->first];
        }
      }
      for (const auto& [child, p] : parent) {
        int depth = 1;
        for (auto it = parent.find(p); it != parent.end() && depth <= t.edges_size();
             it = parent.find(it->second)) {
          ++depth;
        }
        shape.max_depth = std::max(shape.max_depth, depth);
      }
    }
  }
  return shape;
}

}  // namespace canopy::bench
