#include "controller/controller_core.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

using google::protobuf::util::MessageDifferencer;

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerCore>> ControllerCore::Create(ControllerOptions options,
                                                                       PolicyStore& store) {
  std::unique_ptr<ControllerCore> core(new ControllerCore(options, store));
  if (absl::Status s = core->LoadDurable(); !s.ok()) return s;
  return core;
}

ControllerCore::ControllerCore(ControllerOptions options, PolicyStore& store)
    : options_(options),
      store_(store),
      sole_leadership_(options.leadership == nullptr ? std::make_unique<SoleLeadership>("")
                                                     : nullptr),
      leadership_(options.leadership != nullptr ? options.leadership : sole_leadership_.get()),
      planner_(options.planner, store) {}

absl::Status ControllerCore::LoadDurable() {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  absl::StatusOr<std::vector<StaticLink>> links = store_.StaticLinks();
  if (!links.ok()) return links.status();
  absl::StatusOr<std::optional<MulticastMapping>> mapping = store_.GetMulticastMapping();
  if (!mapping.ok()) return mapping.status();
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&plan_mu_);
  std::set<std::string> stored;
  for (const v1::GroupPolicy& p : *policies) {
    planner_.SetPolicy(p);
    stored.insert(p.group());
  }
  for (const std::string& group : stored_policy_groups_) {
    if (stored.contains(group)) continue;
    v1::GroupPolicy unset;  // removed from the store: the default again
    unset.set_group(group);
    planner_.SetPolicy(unset);
  }
  stored_policy_groups_ = std::move(stored);
  planner_.SetStaticLinks(*std::move(links));
  if (*mapping)
    planner_.SetMulticastMapping((*mapping)->base, (*mapping)->prefix, (*mapping)->port);
  {
    absl::MutexLock sessions(&sessions_mu_);
    if (!shutting_down_ && leadership_->PushTerm(absl::Now())) PushPolicies(nullptr);
  }
  Push();
  Planned("replan", start);
  return absl::OkStatus();
}

ControllerCore::Session* ControllerCore::FindSession(uint64_t id) {
  auto node = node_of_session_.find(id);
  if (node == node_of_session_.end()) return nullptr;
  auto it = nodes_.find(node->second);
  return it == nodes_.end() || it->second.id != id ? nullptr : &it->second;
}

void ControllerCore::CloseSession(Session& s) {
  if (s.closing) return;
  s.closing = true;
  s.channel->Close();
}

absl::StatusOr<uint64_t> ControllerCore::Attach(const v1::NodeHello& hello, NodeChannel* channel,
                                                absl::Time now) {
  const absl::Time start = absl::Now();
  const std::string& id = hello.node_id();
  uint64_t session_id;
  {
    // Registration needs only the session lock: a node is alive (and its
    // heartbeats count) even while planning is busy.
    absl::MutexLock lock(&sessions_mu_);
    if (auto it = nodes_.find(id); it != nodes_.end()) {
      Session& old = it->second;
      if (old.hello.data_address() != hello.data_address() &&
          now - old.last_seen <= options_.liveness_timeout) {
        return absl::AlreadyExistsError(absl::StrCat(
            "node id '", id, "' is in use by a live node at ", old.hello.data_address()));
      }
      spdlog::warn("node {} attached again; closing its previous session", id);
      CloseSession(old);
      node_of_session_.erase(old.id);
      nodes_.erase(it);
    }
    Session& s = nodes_[id];
    s.id = next_session_++;
    node_of_session_[s.id] = id;
    s.hello = hello;
    s.channel = channel;
    s.last_seen = now;
    s.membership_refreshed = now;
    session_id = s.id;
    spdlog::info("node {} attached (data {}, clients {}, max fan-out {})", id, hello.data_address(),
                 hello.client_address(), hello.max_fanout());
    // Who leads first, then policies: the node refuses publishers until it
    // has them.
    s.channel->Send(BeatInstruction(leadership_->term()));
    PushPolicies(&s);
  }
  absl::MutexLock plan(&plan_mu_);
  {
    absl::MutexLock lock(&sessions_mu_);
    if (FindSession(session_id) == nullptr) return session_id;  // already gone again
  }
  // Replaces the node's vertex if an earlier session left one.
  planner_.AddNode(NodeSpec{id, hello.data_address(), hello.max_fanout(), hello.upload_bps(),
                            hello.link_token()});
  Push();
  {
    absl::MutexLock lock(&sessions_mu_);
    PushProbePeers(planner_.TakeProbeChanges());
  }
  Planned("attach", start);
  return session_id;
}

void ControllerCore::Detach(uint64_t session) {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  std::string id;
  {
    absl::MutexLock lock(&sessions_mu_);
    Session* s = FindSession(session);
    if (s == nullptr) return;
    id = s->hello.node_id();
    spdlog::info("node {} detached", id);
    node_of_session_.erase(session);
    nodes_.erase(id);
  }
  planner_.RemoveNode(id);
  Push();
  {
    absl::MutexLock lock(&sessions_mu_);
    PushProbePeers(planner_.TakeProbeChanges());
  }
  Planned("detach", start);
}

void ControllerCore::Touch(uint64_t session, absl::Time now) {
  absl::MutexLock lock(&sessions_mu_);
  if (Session* s = FindSession(session)) s->last_seen = std::max(s->last_seen, now);
}

void ControllerCore::OnMembership(uint64_t session, const v1::MembershipReport& report,
                                  absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  std::string node;
  {
    absl::MutexLock lock(&sessions_mu_);
    Session* s = FindSession(session);
    if (s == nullptr) return;
    s->last_seen = std::max(s->last_seen, now);
    s->membership_refreshed = now;
    s->has_membership = true;
    if (!s->reported) {
      s->reported = true;
      planner_.MarkNodeChanged(s->hello.node_id());  // its first table is due
    }
    s->groups.clear();
    for (const v1::GroupMembership& m : report.groups()) s->groups.insert(m.group());
    node = s->hello.node_id();
  }
  std::map<std::string, v1::SourceFilter> membership;
  for (const v1::GroupMembership& m : report.groups()) membership[m.group()] = m.filter();
  planner_.SetMembership(node, std::move(membership));
  Push();
  Planned("membership", start);
  absl::MutexLock lock(&sessions_mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  v1::NodeInstruction ack;
  ack.mutable_membership_ack()->set_report_seq(report.report_seq());
  s->channel->Send(ack);
}

void ControllerCore::OnSources(uint64_t session, const v1::SourceReport& report, absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  std::string node;
  {
    absl::MutexLock lock(&sessions_mu_);
    Session* s = FindSession(session);
    if (s == nullptr) return;
    s->last_seen = std::max(s->last_seen, now);
    node = s->hello.node_id();
    if (!s->reported) {
      s->reported = true;
      planner_.MarkNodeChanged(node);  // its first table is due
    }
  }
  std::set<SourceKey> sources;
  for (const v1::SourceKey& k : report.sources()) sources.insert({k.group(), k.source()});
  planner_.SetSources(node, std::move(sources));
  Push();
  Planned("sources", start);
}

void ControllerCore::OnRtts(uint64_t session, const v1::RttReport& report, absl::Time now) {
  absl::MutexLock plan(&plan_mu_);
  std::string node;
  {
    absl::MutexLock lock(&sessions_mu_);
    Session* s = FindSession(session);
    if (s == nullptr) return;
    s->last_seen = std::max(s->last_seen, now);
    node = s->hello.node_id();
    if (report.has_coordinate()) s->coordinate = report.coordinate();
  }
  std::vector<std::pair<std::string, uint64_t>> rtts;
  for (const v1::PeerRtt& p : report.peers()) rtts.emplace_back(p.node_id(), p.rtt_us());
  planner_.ReportRtts(node, rtts);
  if (report.has_coordinate()) {
    // Validated by the service; a coordinate that is not is dropped.
    if (absl::StatusOr<NetworkCoordinate> c = CoordinateFromProto(report.coordinate()); c.ok()) {
      planner_.ReportCoordinate(node, *c);
    }
  }
  // The answer: its peers' latest coordinates (and a new list if it changed),
  // plus new lists for anyone else whose peers changed.
  std::vector<std::string> due = planner_.TakeProbeChanges();
  if (!std::binary_search(due.begin(), due.end(), node)) {
    due.insert(std::lower_bound(due.begin(), due.end(), node), node);
  }
  absl::MutexLock lock(&sessions_mu_);
  PushProbePeers(due);
}

void ControllerCore::OnHeartbeat(uint64_t session, const v1::Heartbeat& heartbeat, absl::Time now) {
  absl::MutexLock lock(&sessions_mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = std::max(s->last_seen, now);
  s->version_applied = heartbeat.table_version();
}

void ControllerCore::OnMulticastPeers(uint64_t session, const v1::MulticastPeers& report,
                                      absl::Time now) {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  std::map<std::string, std::string> domain_of;
  {
    absl::MutexLock lock(&sessions_mu_);
    Session* s = FindSession(session);
    if (s == nullptr) return;
    s->last_seen = std::max(s->last_seen, now);
    std::set<std::string> peers(report.node_ids().begin(), report.node_ids().end());
    if (peers != s->multicast_peers) {
      spdlog::info("node {} hears {} node(s) on its LAN's discovery group", s->hello.node_id(),
                   peers.size());
    }
    s->multicast_peers = std::move(peers);
    for (const auto& [id, members] : Domains()) domain_of[id] = members.front();
  }
  // Domains become LAN hyper-nodes in the trees; re-plan when they change.
  if (planner_.SetMulticastDomains(std::move(domain_of))) {
    Push();
    Planned("multicast domains", start);
  }
}

void ControllerCore::ExpireSilentNodes(absl::Time now) {
  // Silent and stuck nodes are closed and forgotten at once; planning
  // around them (and expiring membership) follows under the planning lock.
  std::vector<std::string> gone;
  std::vector<std::pair<std::string, uint64_t>> expired_membership;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      Session& s = it->second;
      const absl::Time oldest = s.channel->OldestQueued();
      const bool silent = now - s.last_seen > options_.liveness_timeout;
      const bool stuck = s.channel->overflowed() || (oldest != absl::InfiniteFuture() &&
                                                     now - oldest > options_.drain_timeout);
      if (silent) {
        spdlog::warn("node {} silent for {}; declared dead", it->first,
                     absl::FormatDuration(now - s.last_seen));
        ++nodes_expired_;
      } else if (stuck) {
        spdlog::warn(
            "node {} has not read its instructions for {} ({} queued); disconnected, it gets a "
            "full snapshot when it attaches again",
            it->first,
            oldest == absl::InfiniteFuture() ? "ever" : absl::FormatDuration(now - oldest),
            s.channel->Queued());
        ++nodes_disconnected_stuck_;
      }
      if (silent || stuck) {
        CloseSession(s);
        gone.push_back(it->first);
        node_of_session_.erase(s.id);
        it = nodes_.erase(it);
        continue;
      }
      if (s.has_membership && now - s.membership_refreshed > options_.membership_timeout) {
        spdlog::warn("membership of node {} not refreshed for {}; expired", it->first,
                     absl::FormatDuration(now - s.membership_refreshed));
        s.has_membership = false;
        s.groups.clear();
        expired_membership.emplace_back(it->first, s.id);
      }
      ++it;
    }
  }
  if (gone.empty() && expired_membership.empty()) return;
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  for (const std::string& id : gone) {
    {
      absl::MutexLock lock(&sessions_mu_);
      if (nodes_.contains(id)) continue;  // attached again meanwhile
    }
    planner_.RemoveNode(id);
  }
  for (const auto& [id, session] : expired_membership) {
    {
      absl::MutexLock lock(&sessions_mu_);
      Session* s = FindSession(session);
      if (s == nullptr || s->has_membership) continue;  // gone, or refreshed meanwhile
    }
    planner_.SetMembership(id, {});
  }
  Push();
  if (!gone.empty()) {
    absl::MutexLock lock(&sessions_mu_);
    PushProbePeers(planner_.TakeProbeChanges());
  }
  Planned("expire", start);
}

void ControllerCore::Reoptimize() {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  Planner::ReoptimizeResult r = planner_.Reoptimize();
  if (r.applied > 0) spdlog::info("re-optimisation switched {} tree(s)", r.applied);
  Push();
  Planned("reoptimize", start);
}

void ControllerCore::ReplanAll() {
  const absl::Time start = absl::Now();
  absl::MutexLock plan(&plan_mu_);
  planner_.ReplanAll();
  Push();
  Planned("replan", start);
}

void ControllerCore::BeginShutdown() {
  absl::MutexLock plan(&plan_mu_);
  shutting_down_ = true;
}

v1::NodeInstruction ControllerCore::BeatInstruction(uint64_t term) const {
  v1::NodeInstruction beat;
  beat.mutable_leader()->set_term(term);
  beat.mutable_leader()->set_leader(leadership_->self_address());
  return beat;
}

void ControllerCore::Beat(absl::Time now) {
  const std::optional<uint64_t> term = leadership_->PushTerm(now);
  if (!term) return;
  if (push_owed_.exchange(false)) {
    const absl::Time start = absl::Now();
    absl::MutexLock plan(&plan_mu_);
    Push();
    Planned("replan", start);
  }
  const v1::NodeInstruction beat = BeatInstruction(*term);
  absl::MutexLock lock(&sessions_mu_);
  for (auto& [id, s] : nodes_) s.channel->Send(beat);
}

void ControllerCore::StepDown() {
  absl::MutexLock plan(&plan_mu_);
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto& [id, s] : nodes_) {
      CloseSession(s);
      gone.push_back(id);
    }
    nodes_.clear();
    node_of_session_.clear();
  }
  if (!gone.empty()) spdlog::info("not leading: closed the sessions of {} node(s)", gone.size());
  for (const std::string& id : gone) planner_.RemoveNode(id);
  Push();  // nothing leaves: this replica does not lead
  push_owed_ = false;
}

void ControllerCore::Push() {
  std::set<std::string> changed_groups = planner_.TakeChangedGroups();
  std::set<std::string> touched = planner_.TakeTouchedGroups();
  touched.insert(changed_groups.begin(), changed_groups.end());
  std::vector<Rejection> rejections = planner_.TakeRejections();
  // Changed nodes arrive ingress-last; a new node counts as changed.
  const std::vector<std::string> changed_nodes = planner_.TakeChangedNodes();
  const std::optional<uint64_t> term = leadership_->PushTerm(absl::Now());
  if (!shutting_down_ && !term) {
    // Not certain to lead now: hold the tables back (Beat pushes them once
    // it is). Rejections go too: the planner tells them again on the
    // source's next report.
    for (const std::string& id : changed_nodes) planner_.MarkNodeChanged(id);
    push_owed_ = true;
  }
  if (!shutting_down_ && term) {
    absl::MutexLock lock(&sessions_mu_);
    for (const Rejection& r : rejections) {
      auto it = nodes_.find(r.node);
      if (it == nodes_.end()) continue;
      v1::NodeInstruction instruction;
      v1::SourceRejected* rejected = instruction.mutable_source_rejected();
      rejected->mutable_key()->set_group(r.key.first);
      rejected->mutable_key()->set_source(r.key.second);
      rejected->set_reason(r.reason);
      it->second.channel->Send(instruction);
    }
    for (const std::string& id : changed_nodes) {
      auto it = nodes_.find(id);
      if (it == nodes_.end()) continue;
      Session& s = it->second;
      if (!s.reported) continue;  // its first membership report brings it
      v1::ForwardingTable table;
      for (v1::FlowEntry& e : planner_.TableOf(id)) *table.add_flows() = std::move(e);
      for (v1::CutOffSource& c : planner_.CutOffOf(id)) *table.add_cut_off() = std::move(c);
      if (s.version_sent != 0 && MessageDifferencer::Equals(table, s.table)) continue;
      s.table = table;
      s.version_sent = next_version_++;
      v1::NodeInstruction instruction;
      *instruction.mutable_table() = std::move(table);
      instruction.mutable_table()->set_version(s.version_sent);
      instruction.mutable_table()->set_term(*term);
      spdlog::debug("table v{} to {}: {} flow(s)", s.version_sent, id,
                    instruction.table().flows_size());
      s.channel->Send(instruction);
      ++tables_pushed_;
    }
  }
  // The views first, then the versions, under one lock: a watcher woken by
  // a new version reads the trees of that version.
  const std::vector<std::pair<std::string, uint64_t>> versions =
      PublishView(touched, changed_groups);
  // One log line per planned change, naming a few of the groups.
  constexpr size_t kGroupsLogged = 8;
  std::string names;
  size_t count = 0;
  for (const auto& [group, version] : versions) {
    if (count++ < kGroupsLogged) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", group, " (version ", version, ")");
    }
  }
  if (count == 1) {
    spdlog::info("tree of group {} changed", names);
  } else if (count > 1) {
    spdlog::info("trees of {} groups changed: {}{}", count, names,
                 count > kGroupsLogged ? ", …" : "");
  }
}

std::vector<std::pair<std::string, uint64_t>> ControllerCore::PublishView(
    const std::set<std::string>& groups, const std::set<std::string>& changed) {
  std::map<std::string, GroupView> fresh;
  for (const std::string& group : groups) {
    GroupView& view = fresh[group];
    view.has_members_or_sources = planner_.HasMembersOrSources(group);
    view.trees = planner_.Trees(group);
    view.members = planner_.Members(group);
    for (const auto& [node, filter] : view.members) {
      for (v1::CutOffSource& c : planner_.CutOffOf(node)) {
        if (c.group() == group) view.cut_off[node].push_back(std::move(c));
      }
    }
  }
  v1::ControllerStats stats;
  stats.set_flows(static_cast<uint32_t>(planner_.flow_count()));
  stats.set_static_links(static_cast<uint32_t>(planner_.topology().static_links().size()));
  const PlannerStats& p = planner_.stats();
  stats.set_full_plans(p.full_plans);
  stats.set_incremental_changes(p.incremental_changes);
  stats.set_reoptimizations_applied(p.reoptimizations_applied);
  stats.set_reoptimizations_skipped(p.reoptimizations_skipped);
  stats.set_last_full_plan_us(p.last_full_plan_us);
  stats.set_unreachable_members(static_cast<uint32_t>(planner_.unreachable_count()));
  absl::MutexLock lock(&view_mu_);
  for (auto& [group, view] : fresh) {
    if (view.has_members_or_sources || !view.trees.empty()) {
      views_[group] = std::move(view);
    } else {
      views_.erase(group);
    }
  }
  planner_stats_ = std::move(stats);
  std::vector<std::pair<std::string, uint64_t>> versions;
  versions.reserve(changed.size());
  for (const std::string& group : changed) versions.emplace_back(group, ++tree_versions_[group]);
  return versions;
}

void ControllerCore::PushProbePeers(const std::vector<std::string>& nodes) {
  // Whom each node probes is the planner's (ProbePlan): every other node
  // while the overlay is small, its nearest and a few random ones after.
  for (const std::string& id : nodes) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) continue;
    Session& s = it->second;
    v1::NodeInstruction instruction;
    *instruction.mutable_probe_peers() = planner_.ProbePeersOf(id);
    s.probe_peers.clear();
    for (const v1::Hop& hop : instruction.probe_peers().peers()) {
      s.probe_peers.push_back(hop.node_id());
    }
    s.channel->Send(instruction);
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

}  // namespace canopy::controller
