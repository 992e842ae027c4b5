#include "bench/planner/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/address.h"
#include "proto/validation.h"

namespace canopy::bench {
namespace {

constexpr int kDataPortBase = 10000;
constexpr int kClientPortBase = 35000;
constexpr double kMinRttUs = 100;
constexpr double kDiagonalRttUs = 19900;
constexpr double kMaxRttUs = 20000;
constexpr double kMaxDetour = 0.8;  // detour factor in [1, 1 + kMaxDetour)

int Digits(int count) { return count <= 1 ? 1 : static_cast<int>(std::to_string(count - 1).size()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Scenario>> Scenario::Create(const ScenarioOptions& options) {
  std::remove(options.store_path.c_str());
  absl::StatusOr<std::unique_ptr<controller::PolicyStore>> store =
      controller::PolicyStore::Open(options.store_path);
  if (!store.ok()) return store.status();
  std::unique_ptr<Scenario> scenario(new Scenario(options, *std::move(store)));
  absl::StatusOr<std::unique_ptr<controller::ControllerCore>> core =
      controller::ControllerCore::Create(controller::ControllerOptions{}, *scenario->store_);
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
    : options_(options), store_(std::move(store)), now_(absl::FromUnixSeconds(1'700'000'000)) {
  Random random(options.seed);
  const int node_digits = Digits(options.nodes);
  const int group_digits = std::max(3, Digits(options.groups));
  for (int i = 0; i < options.nodes; ++i) {
    ids_.push_back(absl::StrFormat("n%0*d", node_digits, i));
    x_.push_back(random.UniformDouble());
    y_.push_back(random.UniformDouble());
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

uint64_t Scenario::RttUs(int a, int b) const {
  const double distance = std::hypot(x_[a] - x_[b], y_[a] - y_[b]);
  const double detour =
      1.0 + kMaxDetour * PairNoise(options_.seed, static_cast<uint64_t>(a), static_cast<uint64_t>(b));
  const double rtt = kMinRttUs + distance / std::sqrt(2.0) * kDiagonalRttUs * detour;
  return static_cast<uint64_t>(std::min(rtt, kMaxRttUs));
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

void Scenario::ReportAllRtts() {
  const int n = node_count();
  for (int i = 0; i < n; ++i) {
    v1::RttReport report;
    for (int k = 1; k <= n / 2; ++k) {
      const int j = (i + k) % n;
      v1::PeerRtt* peer = report.add_peers();
      peer->set_node_id(ids_[j]);
      peer->set_rtt_us(RttUs(i, j));
    }
    core_->OnRtts(sessions_[i], report, Tick());
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
      for (const v1::TreeEdge& e : t.edges()) {
        parent[e.child()] = e.parent();
        ++shape.edges;
        shape.cost_us += e.cost();
        if (e.parent() != t.root()) ++shape.relayed_edges;
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
