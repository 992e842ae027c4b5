// ControllerCore's operator-facing half: policy and static-link changes
// (durable first, then re-planned and pushed) and the read-only views that
// canopyctl, /metrics and watchers read. The node-facing half (sessions,
// reports, pushes) is controller_core.cc.

#include "absl/strings/str_cat.h"
#include "controller/controller_core.h"
#include "spdlog/spdlog.h"
#include "tree/multicast_domains.h"

namespace canopy::controller {
namespace {

// "profile cost, ttl 1 (default), slow_receiver reliable (default)": what a
// policy means, in canopyctl policy get's words, for the log.
std::string DescribePolicy(const v1::GroupPolicy& policy) {
  std::string profile;
  switch (policy.profile()) {
    case v1::TREE_PROFILE_UNSPECIFIED:
      profile = "latency (default)";
      break;
    case v1::TREE_PROFILE_LATENCY:
      profile = "latency";
      break;
    case v1::TREE_PROFILE_COST:
      profile = "cost";
      break;
    case v1::TREE_PROFILE_BULK:
      profile = "bulk";
      break;
    default:
      profile = absl::StrCat("profile(", static_cast<int>(policy.profile()), ")");
  }
  std::string slow;
  switch (policy.slow_receiver()) {
    case v1::SLOW_RECEIVER_UNSPECIFIED:
      slow = "reliable (default)";
      break;
    case v1::SLOW_RECEIVER_RELIABLE:
      slow = "reliable";
      break;
    case v1::SLOW_RECEIVER_REALTIME:
      slow = "realtime";
      break;
    default:
      slow = absl::StrCat("slow_receiver(", static_cast<int>(policy.slow_receiver()), ")");
  }
  return absl::StrCat("profile ", profile, ", ttl ",
                      policy.ttl() == 0 ? "1 (default)" : absl::StrCat(policy.ttl()),
                      ", slow_receiver ", slow);
}

}  // namespace

absl::StatusOr<v1::GroupPolicy> ControllerCore::GetPolicy(const std::string& group) {
  return store_.GetPolicy(group);
}

absl::StatusOr<bool> ControllerCore::HasPolicy(const std::string& group) {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  return std::any_of(policies->begin(), policies->end(),
                     [&](const v1::GroupPolicy& p) { return p.group() == group; });
}

absl::Status ControllerCore::SetPolicy(const v1::GroupPolicy& policy) {
  const absl::Time start = absl::Now();
  absl::MutexLock writing(&policy_mu_);
  if (absl::Status s = store_.SetPolicy(policy); !s.ok()) return s;
  absl::MutexLock plan(&plan_mu_);
  stored_policy_groups_.insert(policy.group());
  spdlog::info("policy of group {} set: {} allowed source(s), {}", policy.group(),
               policy.allowed_sources_size(), DescribePolicy(policy));
  if (!shutting_down_ && leadership_->PushTerm(absl::Now())) {
    absl::MutexLock lock(&sessions_mu_);
    PushPolicies(nullptr);
  }
  planner_.SetPolicy(policy);
  Push();
  Planned("policy", start);
  return absl::OkStatus();
}

absl::Status ControllerCore::SetStaticLinks(const std::vector<StaticLink>& links) {
  const absl::Time start = absl::Now();
  absl::MutexLock writing(&policy_mu_);
  if (absl::Status s = store_.SetStaticLinks(links); !s.ok()) return s;
  absl::MutexLock plan(&plan_mu_);
  planner_.SetStaticLinks(links);
  Push();
  Planned("links", start);
  return absl::OkStatus();
}

std::map<std::string, std::vector<std::string>> ControllerCore::Domains() const {
  std::map<std::string, std::set<std::string>> heard;
  for (const auto& [id, s] : nodes_) heard[id] = s.multicast_peers;
  return tree::MulticastDomains(heard);
}

v1::ListNodesResponse ControllerCore::ListNodes() const {
  absl::MutexLock lock(&sessions_mu_);
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
    n->set_instructions_queued(static_cast<uint32_t>(s.channel->Queued()));
    for (const std::string& peer : s.probe_peers) n->add_probe_peers(peer);
    if (s.coordinate) *n->mutable_coordinate() = *s.coordinate;
    if (auto d = domains.find(id); d != domains.end()) {
      for (const std::string& member : d->second) n->add_multicast_domain(member);
    }
  }
  return response;
}

absl::StatusOr<v1::ListGroupsResponse> ControllerCore::ListGroups() const {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  std::map<std::string, v1::GroupSummary> groups;
  for (const v1::GroupPolicy& p : *policies) {
    *groups[p.group()].mutable_allowed_sources() = p.allowed_sources();
  }
  {
    absl::MutexLock lock(&view_mu_);
    for (const auto& [name, view] : views_) {
      v1::GroupSummary& g = groups[name];
      for (const auto& [node, filter] : view.members) g.add_member_nodes(node);
      for (const v1::SourceTree& t : view.trees) {
        v1::SourceAt* at = g.add_sources();
        at->set_source(t.source());
        at->set_node_id(t.root());
      }
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
  absl::MutexLock lock(&view_mu_);
  auto view = views_.find(request.group());
  if (view == views_.end() || !view->second.has_members_or_sources) {
    return absl::NotFoundError(
        absl::StrCat("group '", request.group(), "' has no members and no sources"));
  }
  v1::GetTreeResponse response;
  response.set_group(request.group());
  for (const v1::SourceTree& t : view->second.trees) {
    if (!request.source().empty() && t.source() != request.source()) continue;
    *response.add_trees() = t;
  }
  if (!request.source().empty() && response.trees().empty()) {
    return absl::NotFoundError(absl::StrCat("source '", request.source(),
                                            "' does not publish to group '", request.group(), "'"));
  }
  return response;
}

absl::StatusOr<v1::ListMembersResponse> ControllerCore::ListMembers(
    const std::string& group) const {
  absl::MutexLock lock(&view_mu_);
  v1::ListMembersResponse response;
  response.set_group(group);
  auto view = views_.find(group);
  if (view != views_.end()) {
    for (const auto& [node, filter] : view->second.members) {
      v1::Member* m = response.add_members();
      m->set_node_id(node);
      *m->mutable_filter() = filter;
      if (auto cut = view->second.cut_off.find(node); cut != view->second.cut_off.end()) {
        for (const v1::CutOffSource& c : cut->second) *m->add_cut_off() = c;
      }
    }
  }
  if (response.members().empty()) {
    return absl::NotFoundError(absl::StrCat("group '", group, "' has no members"));
  }
  return response;
}

v1::ControllerStats ControllerCore::Stats() const {
  v1::ControllerStats stats;
  {
    absl::MutexLock lock(&view_mu_);
    stats = planner_stats_;
    std::set<std::string> groups;
    for (const auto& [name, view] : views_) {
      if (!view.members.empty()) groups.insert(name);
    }
    stats.set_groups(static_cast<uint32_t>(groups.size()));
  }
  const StoreHealth store = store_.Health();
  stats.set_store(store.kind);
  stats.set_store_reachable(store.reachable);
  stats.set_store_error(store.error);
  stats.set_leader_term(leadership_->term());
  absl::MutexLock lock(&sessions_mu_);
  stats.set_nodes(static_cast<uint32_t>(nodes_.size()));
  stats.set_tables_pushed(tables_pushed_);
  stats.set_nodes_expired(nodes_expired_);
  stats.set_nodes_disconnected_stuck(nodes_disconnected_stuck_);
  return stats;
}

v1::ControllerStatus ControllerCore::Status() const {
  v1::ControllerStatus status;
  status.set_leader(leadership_->leader_address());
  status.set_term(leadership_->term());
  status.set_replica(leadership_->self_address());
  const StoreHealth store = store_.Health();
  status.set_store(store.kind);
  status.set_store_location(store.location);
  status.set_store_reachable(store.reachable);
  status.set_store_error(store.error);
  return status;
}

std::map<std::string, ControllerCore::GroupGauges> ControllerCore::GroupGaugesSnapshot() const {
  std::map<std::string, GroupGauges> groups;
  absl::MutexLock lock(&view_mu_);
  for (const auto& [name, view] : views_) {
    groups[name].member_nodes = static_cast<int>(view.members.size());
  }
  // Groups that ended (no view) are left out, so their gauges go away.
  for (auto& [group, gauges] : groups) {
    if (auto it = tree_versions_.find(group); it != tree_versions_.end()) {
      gauges.tree_version = it->second;
    }
  }
  return groups;
}

uint64_t ControllerCore::TreeVersion(const std::string& group) const {
  absl::MutexLock lock(&view_mu_);
  auto it = tree_versions_.find(group);
  return it == tree_versions_.end() ? 0 : it->second;
}

uint64_t ControllerCore::WaitForTreeChange(const std::string& group, uint64_t seen,
                                           absl::Duration timeout) const {
  absl::MutexLock lock(&view_mu_);
  auto version = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(view_mu_) {
    auto it = tree_versions_.find(group);
    return it == tree_versions_.end() ? uint64_t{0} : it->second;
  };
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(view_mu_) { return version() > seen; };
  view_mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return version();
}

}  // namespace canopy::controller
