#include "controller/controller_core.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controller/multicast_domains.h"
#include "google/protobuf/util/message_differencer.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

bool SameTable(const std::vector<v1::FlowEntry>& a, const std::vector<v1::FlowEntry>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const v1::FlowEntry& x, const v1::FlowEntry& y) {
                      return google::protobuf::util::MessageDifferencer::Equals(x, y);
                    });
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerCore>> ControllerCore::Create(ControllerOptions options,
                                                                       PolicyStore& store) {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store.AllPolicies();
  if (!policies.ok()) return policies.status();
  absl::StatusOr<std::vector<StaticLink>> links = store.StaticLinks();
  if (!links.ok()) return links.status();
  std::unique_ptr<ControllerCore> core(new ControllerCore(options, store));
  absl::MutexLock lock(&core->mu_);
  for (const v1::GroupPolicy& p : *policies) core->planner_.SetPolicy(p);
  core->planner_.SetStaticLinks(*std::move(links));
  return core;
}

ControllerCore::ControllerCore(ControllerOptions options, PolicyStore& store)
    : options_(options), store_(store), planner_(options.planner, store) {}

ControllerCore::Session* ControllerCore::FindSession(uint64_t id) {
  for (auto& [node, session] : nodes_) {
    if (session.id == id) return &session;
  }
  return nullptr;
}

absl::StatusOr<uint64_t> ControllerCore::Attach(const v1::NodeHello& hello, NodeChannel* channel,
                                                absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  const std::string& id = hello.node_id();
  if (auto it = nodes_.find(id); it != nodes_.end()) {
    const Session& old = it->second;
    if (old.hello.data_address() != hello.data_address() &&
        now - old.last_seen <= options_.liveness_timeout) {
      return absl::AlreadyExistsError(absl::StrCat(
          "node id '", id, "' is in use by a live node at ", old.hello.data_address()));
    }
    spdlog::warn("node {} attached again; closing its previous session", id);
    it->second.channel->Close();
    nodes_.erase(it);
    planner_.RemoveNode(id);
  }
  Session& s = nodes_[id];
  s.id = next_session_++;
  s.hello = hello;
  s.channel = channel;
  s.last_seen = now;
  s.membership_refreshed = now;
  spdlog::info("node {} attached (data {}, clients {}, max fan-out {})", id, hello.data_address(),
               hello.client_address(), hello.max_fanout());
  PushPolicies(&s);
  planner_.AddNode(NodeSpec{id, hello.data_address(), hello.max_fanout(), hello.upload_bps()});
  Push();
  PushProbePeers();
  Planned("attach", start);
  return s.id;
}

void ControllerCore::Detach(uint64_t session) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  const std::string id = s->hello.node_id();
  spdlog::info("node {} detached", id);
  nodes_.erase(id);
  planner_.RemoveNode(id);
  Push();
  PushProbePeers();
  Planned("detach", start);
}

void ControllerCore::OnMembership(uint64_t session, const v1::MembershipReport& report,
                                  absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  s->membership_refreshed = now;
  s->has_membership = true;
  std::map<std::string, v1::SourceFilter> membership;
  s->groups.clear();
  for (const v1::GroupMembership& m : report.groups()) {
    membership[m.group()] = m.filter();
    s->groups.insert(m.group());
  }
  planner_.SetMembership(s->hello.node_id(), std::move(membership));
  Push();
  Planned("membership", start);
  v1::NodeInstruction ack;
  ack.mutable_membership_ack()->set_report_seq(report.report_seq());
  s->channel->Send(ack);
}

void ControllerCore::OnSources(uint64_t session, const v1::SourceReport& report, absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  std::set<SourceKey> sources;
  for (const v1::SourceKey& k : report.sources()) sources.insert({k.group(), k.source()});
  planner_.SetSources(s->hello.node_id(), std::move(sources));
  Push();
  Planned("sources", start);
}

void ControllerCore::OnRtts(uint64_t session, const v1::RttReport& report, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  std::vector<std::pair<std::string, uint64_t>> rtts;
  for (const v1::PeerRtt& p : report.peers()) rtts.emplace_back(p.node_id(), p.rtt_us());
  planner_.ReportRtts(s->hello.node_id(), rtts);
}

void ControllerCore::OnHeartbeat(uint64_t session, const v1::Heartbeat& heartbeat, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  s->version_applied = heartbeat.table_version();
}

void ControllerCore::ExpireSilentNodes(absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  bool changed = false;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    Session& s = it->second;
    if (now - s.last_seen > options_.liveness_timeout) {
      spdlog::warn("node {} silent for {}; declared dead", it->first,
                   absl::FormatDuration(now - s.last_seen));
      s.channel->Close();
      planner_.RemoveNode(it->first);
      it = nodes_.erase(it);
      ++nodes_expired_;
      changed = true;
      continue;
    }
    if (s.has_membership && now - s.membership_refreshed > options_.membership_timeout) {
      spdlog::warn("membership of node {} not refreshed for {}; expired", it->first,
                   absl::FormatDuration(now - s.membership_refreshed));
      s.has_membership = false;
      s.groups.clear();
      planner_.SetMembership(it->first, {});
      changed = true;
    }
    ++it;
  }
  if (changed) {
    Push();
    PushProbePeers();
    Planned("expire", start);
  }
}

void ControllerCore::Reoptimize() {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  Planner::ReoptimizeResult r = planner_.Reoptimize();
  if (r.applied > 0) spdlog::info("re-optimisation switched {} tree(s)", r.applied);
  Push();
  Planned("reoptimize", start);
}

void ControllerCore::ReplanAll() {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  planner_.ReplanAll();
  Push();
  Planned("replan", start);
}

void ControllerCore::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
}

void ControllerCore::Push() {
  if (shutting_down_) return;
  for (const Rejection& r : planner_.TakeRejections()) {
    auto it = nodes_.find(r.node);
    if (it == nodes_.end()) continue;
    v1::NodeInstruction instruction;
    v1::SourceRejected* rejected = instruction.mutable_source_rejected();
    rejected->mutable_key()->set_group(r.key.first);
    rejected->mutable_key()->set_source(r.key.second);
    rejected->set_reason(r.reason);
    it->second.channel->Send(instruction);
  }
  // Changed nodes arrive ingress-last; a new node counts as changed.
  for (const std::string& id : planner_.TakeChangedNodes()) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) continue;
    Session& s = it->second;
    std::vector<v1::FlowEntry> table = planner_.TableOf(id);
    if (s.version_sent != 0 && SameTable(table, s.table)) continue;
    s.table = table;
    s.version_sent = next_version_++;
    v1::NodeInstruction instruction;
    v1::ForwardingTable* t = instruction.mutable_table();
    t->set_version(s.version_sent);
    for (v1::FlowEntry& e : table) *t->add_flows() = std::move(e);
    spdlog::debug("table v{} to {}: {} flow(s)", s.version_sent, id, t->flows_size());
    s.channel->Send(instruction);
    ++tables_pushed_;
  }
  // One log line per planned change, naming a few of the groups.
  constexpr size_t kGroupsLogged = 8;
  std::string changed;
  size_t count = 0;
  for (const std::string& group : planner_.TakeChangedGroups()) {
    const uint64_t version = ++tree_versions_[group];
    if (count++ < kGroupsLogged) {
      absl::StrAppend(&changed, changed.empty() ? "" : ", ", group, " (version ", version, ")");
    }
  }
  if (count == 1) {
    spdlog::info("tree of group {} changed", changed);
  } else if (count > 1) {
    spdlog::info("trees of {} groups changed: {}{}", count, changed,
                 count > kGroupsLogged ? ", …" : "");
  }
}

void ControllerCore::PushProbePeers() {
  if (shutting_down_) return;
  // Each node probes the nodes after it in id order (wrapping around), at
  // most kMaxProbePeers of them: every pair is covered while the overlay is
  // small, and the work per node stays bounded when it is large.
  constexpr size_t kMaxProbePeers = 256;
  std::vector<const Session*> all;
  all.reserve(nodes_.size());
  for (const auto& [id, s] : nodes_) all.push_back(&s);
  for (size_t i = 0; i < all.size(); ++i) {
    v1::NodeInstruction instruction;
    v1::ProbePeers* peers = instruction.mutable_probe_peers();
    for (size_t k = 1; k < all.size() && static_cast<size_t>(peers->peers_size()) < kMaxProbePeers;
         ++k) {
      const Session* peer = all[(i + k) % all.size()];
      v1::Hop* hop = peers->add_peers();
      hop->set_node_id(peer->hello.node_id());
      hop->set_data_address(peer->hello.data_address());
    }
    all[i]->channel->Send(instruction);
  }
}

void ControllerCore::Planned(const char* event, absl::Time start) {
  if (options_.on_planned) options_.on_planned(event, absl::Now() - start);
}

void ControllerCore::PushPolicies(Session* only) {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) {
    spdlog::error("cannot read policies: {}", policies.status().ToString());
    return;
  }
  v1::NodeInstruction instruction;
  v1::PolicyUpdate* update = instruction.mutable_policies();  // set even when empty
  for (v1::GroupPolicy& p : *policies) *update->add_policies() = std::move(p);
  if (only != nullptr) {
    only->channel->Send(instruction);
    return;
  }
  for (auto& [id, s] : nodes_) s.channel->Send(instruction);
}

absl::StatusOr<v1::GroupPolicy> ControllerCore::GetPolicy(const std::string& group) {
  return store_.GetPolicy(group);
}

absl::Status ControllerCore::SetPolicy(const v1::GroupPolicy& policy) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  if (absl::Status s = store_.SetPolicy(policy); !s.ok()) return s;
  spdlog::info("policy of group {} set: {} allowed source(s), profile {}, ttl {}, {}",
               policy.group(), policy.allowed_sources_size(),
               v1::TreeProfile_Name(policy.profile()), policy.ttl(),
               v1::SlowReceiverPolicy_Name(policy.slow_receiver()));
  PushPolicies(nullptr);
  planner_.SetPolicy(policy);
  Push();
  Planned("policy", start);
  return absl::OkStatus();
}

absl::Status ControllerCore::SetStaticLinks(const std::vector<StaticLink>& links) {
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  if (absl::Status s = store_.SetStaticLinks(links); !s.ok()) return s;
  planner_.SetStaticLinks(links);
  Push();
  Planned("links", start);
  return absl::OkStatus();
}

void ControllerCore::OnMulticastPeers(uint64_t session, const v1::MulticastPeers& report,
                                      absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  std::set<std::string> peers(report.node_ids().begin(), report.node_ids().end());
  if (peers != s->multicast_peers) {
    spdlog::info("node {} hears {} node(s) on its LAN's discovery group", s->hello.node_id(),
                 peers.size());
  }
  s->multicast_peers = std::move(peers);
  // Domains become LAN hyper-nodes in the trees; re-plan when they change.
  std::map<std::string, std::string> domain_of;
  for (const auto& [id, members] : Domains()) domain_of[id] = members.front();
  const absl::Time start = absl::Now();
  if (planner_.SetMulticastDomains(std::move(domain_of))) {
    Push();
    Planned("multicast domains", start);
  }
}

std::map<std::string, std::vector<std::string>> ControllerCore::Domains() const {
  std::map<std::string, std::set<std::string>> heard;
  for (const auto& [id, s] : nodes_) heard[id] = s.multicast_peers;
  return MulticastDomains(heard);
}

v1::ListNodesResponse ControllerCore::ListNodes() const {
  absl::MutexLock lock(&mu_);
  const std::map<std::string, std::vector<std::string>> domains = Domains();
  v1::ListNodesResponse response;
  for (const auto& [id, s] : nodes_) {
    v1::NodeSummary* n = response.add_nodes();
    n->set_node_id(id);
    n->set_data_address(s.hello.data_address());
    n->set_client_address(s.hello.client_address());
    n->set_max_fanout(s.hello.max_fanout());
    n->set_upload_bps(s.hello.upload_bps());
    for (const std::string& group : s.groups) n->add_groups(group);
    n->set_table_version_sent(s.version_sent);
    n->set_table_version_applied(s.version_applied);
    if (auto d = domains.find(id); d != domains.end()) {
      for (const std::string& member : d->second) n->add_multicast_domain(member);
    }
  }
  return response;
}

absl::StatusOr<v1::ListGroupsResponse> ControllerCore::ListGroups() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::GroupSummary> groups;
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  for (const v1::GroupPolicy& p : *policies) {
    *groups[p.group()].mutable_allowed_sources() = p.allowed_sources();
  }
  for (const auto& [id, s] : nodes_) {
    for (const std::string& group : s.groups) groups[group].add_member_nodes(id);
  }
  for (const auto& [name, g] : groups) {
    for (const v1::SourceTree& t : planner_.Trees(name)) {
      v1::SourceAt* at = groups[name].add_sources();
      at->set_source(t.source());
      at->set_node_id(t.root());
    }
  }
  v1::ListGroupsResponse response;
  for (auto& [name, g] : groups) {
    g.set_group(name);
    if (absl::StatusOr<uint32_t> h = store_.GroupHandle(name); h.ok()) g.set_group_handle(*h);
    *response.add_groups() = std::move(g);
  }
  return response;
}

absl::StatusOr<v1::GetTreeResponse> ControllerCore::GetTree(
    const v1::GetTreeRequest& request) const {
  absl::MutexLock lock(&mu_);
  if (!planner_.HasMembersOrSources(request.group())) {
    return absl::NotFoundError(
        absl::StrCat("group '", request.group(), "' has no members and no sources"));
  }
  v1::GetTreeResponse response;
  response.set_group(request.group());
  for (v1::SourceTree& t : planner_.Trees(request.group())) {
    if (!request.source().empty() && t.source() != request.source()) continue;
    *response.add_trees() = std::move(t);
  }
  if (!request.source().empty() && response.trees().empty()) {
    return absl::NotFoundError(absl::StrCat("source '", request.source(),
                                            "' does not publish to group '", request.group(), "'"));
  }
  return response;
}

absl::StatusOr<v1::ListMembersResponse> ControllerCore::ListMembers(
    const std::string& group) const {
  absl::MutexLock lock(&mu_);
  v1::ListMembersResponse response;
  response.set_group(group);
  for (const auto& [node, filter] : planner_.Members(group)) {
    v1::Member* m = response.add_members();
    m->set_node_id(node);
    *m->mutable_filter() = filter;
  }
  if (response.members().empty()) {
    return absl::NotFoundError(absl::StrCat("group '", group, "' has no members"));
  }
  return response;
}

v1::ControllerStats ControllerCore::Stats() const {
  absl::MutexLock lock(&mu_);
  v1::ControllerStats stats;
  stats.set_nodes(static_cast<uint32_t>(nodes_.size()));
  std::set<std::string> groups;
  for (const auto& [id, s] : nodes_) groups.insert(s.groups.begin(), s.groups.end());
  stats.set_groups(static_cast<uint32_t>(groups.size()));
  stats.set_flows(static_cast<uint32_t>(planner_.flow_count()));
  stats.set_static_links(static_cast<uint32_t>(planner_.topology().static_links().size()));
  const PlannerStats& p = planner_.stats();
  stats.set_full_plans(p.full_plans);
  stats.set_incremental_changes(p.incremental_changes);
  stats.set_reoptimizations_applied(p.reoptimizations_applied);
  stats.set_reoptimizations_skipped(p.reoptimizations_skipped);
  stats.set_tables_pushed(tables_pushed_);
  stats.set_nodes_expired(nodes_expired_);
  stats.set_last_full_plan_us(p.last_full_plan_us);
  return stats;
}

std::map<std::string, ControllerCore::GroupGauges> ControllerCore::GroupGaugesSnapshot() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, GroupGauges> groups;
  for (const auto& [id, s] : nodes_) {
    for (const std::string& group : s.groups) ++groups[group].member_nodes;
  }
  for (const auto& [group, version] : tree_versions_) groups[group].tree_version = version;
  return groups;
}

uint64_t ControllerCore::TreeVersion(const std::string& group) const {
  absl::MutexLock lock(&mu_);
  auto it = tree_versions_.find(group);
  return it == tree_versions_.end() ? 0 : it->second;
}

uint64_t ControllerCore::WaitForTreeChange(const std::string& group, uint64_t seen,
                                           absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto version = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = tree_versions_.find(group);
    return it == tree_versions_.end() ? uint64_t{0} : it->second;
  };
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version() > seen; };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return version();
}

}  // namespace canopy::controller
