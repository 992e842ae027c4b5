#include "controller/controller_core.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

bool SameTable(const std::vector<v1::FlowEntry>& a, const std::vector<v1::FlowEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

ControllerCore::ControllerCore(ControllerOptions options, PolicyStore& store)
    : options_(options), store_(store) {}

ControllerCore::Session* ControllerCore::FindSession(uint64_t id) {
  for (auto& [node, session] : nodes_) {
    if (session.id == id) return &session;
  }
  return nullptr;
}

uint64_t ControllerCore::Attach(const v1::NodeHello& hello, NodeChannel* channel, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(hello.node_id());
  if (it != nodes_.end()) {
    spdlog::warn("node {} attached again; closing its previous session", hello.node_id());
    it->second.channel->Close();
    nodes_.erase(it);
  }
  Session& s = nodes_[hello.node_id()];
  s.id = next_session_++;
  s.hello = hello;
  s.channel = channel;
  s.last_seen = now;
  spdlog::info("node {} attached (data {}, clients {}, max fan-out {})", hello.node_id(),
               hello.data_address(), hello.client_address(), hello.max_fanout());
  PushPolicies(&s);
  Replan();
  return s.id;
}

void ControllerCore::Detach(uint64_t session) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  spdlog::info("node {} detached", s->hello.node_id());
  nodes_.erase(s->hello.node_id());
  Replan();
}

void ControllerCore::OnMembership(uint64_t session, const v1::MembershipReport& report,
                                  absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  s->membership.clear();
  for (const v1::GroupMembership& m : report.groups()) s->membership[m.group()] = m.filter();
  Replan();
  v1::NodeInstruction ack;
  ack.mutable_membership_ack()->set_report_seq(report.report_seq());
  s->channel->Send(ack);
}

void ControllerCore::OnSources(uint64_t session, const v1::SourceReport& report, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  s->sources.clear();
  for (const v1::SourceKey& k : report.sources()) s->sources.insert({k.group(), k.source()});
  // A source that stopped may be told again if it comes back.
  for (auto it = s->rejected.begin(); it != s->rejected.end();) {
    it = s->sources.contains(it->first) ? std::next(it) : s->rejected.erase(it);
  }
  Replan();
}

void ControllerCore::OnHeartbeat(uint64_t session, const v1::Heartbeat& heartbeat, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Session* s = FindSession(session);
  if (s == nullptr) return;
  s->last_seen = now;
  s->version_applied = heartbeat.table_version();
}

void ControllerCore::ExpireSilentNodes(absl::Time now) {
  absl::MutexLock lock(&mu_);
  bool changed = false;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (now - it->second.last_seen > options_.liveness_timeout) {
      spdlog::warn("node {} silent for {}; declared dead", it->first,
                   absl::FormatDuration(now - it->second.last_seen));
      it->second.channel->Close();
      it = nodes_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) Replan();
}

absl::StatusOr<PlanInput> ControllerCore::BuildInput() {
  PlanInput input;
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  for (const v1::GroupPolicy& p : *policies) {
    input.allow_lists[p.group()].assign(p.allowed_sources().begin(), p.allowed_sources().end());
  }
  for (const auto& [id, s] : nodes_) {
    NodeView view;
    view.id = id;
    view.data_address = s.hello.data_address();
    view.max_fanout = s.hello.max_fanout();
    view.membership = s.membership;
    view.sources = s.sources;
    for (const SourceKey& key : s.sources) {
      absl::StatusOr<uint32_t> handle = store_.GroupHandle(key.first);
      if (!handle.ok()) return handle.status();
      absl::StatusOr<uint32_t> source_id = store_.SourceId(key.first, key.second);
      if (!source_id.ok()) return source_id.status();
      input.group_handles[key.first] = *handle;
      input.source_ids[key] = *source_id;
    }
    input.nodes.push_back(std::move(view));
  }
  return input;
}

void ControllerCore::Replan() {
  absl::StatusOr<PlanInput> input = BuildInput();
  if (!input.ok()) {
    spdlog::error("cannot plan: {}", std::string(input.status().message()));
    return;
  }
  plan_ = ComputePlan(*input);

  // Tell ingress nodes about refused sources (once each).
  for (const Rejection& r : plan_.rejections) {
    auto it = nodes_.find(r.node);
    if (it == nodes_.end() || it->second.rejected.contains(r.key)) continue;
    it->second.rejected[r.key] = r.reason;
    v1::NodeInstruction instruction;
    v1::SourceRejected* rejected = instruction.mutable_source_rejected();
    rejected->mutable_key()->set_group(r.key.first);
    rejected->mutable_key()->set_source(r.key.second);
    rejected->set_reason(r.reason);
    spdlog::info("refusing source {} on group {} at node {}: {}", r.key.second, r.key.first, r.node,
                 r.reason);
    it->second.channel->Send(instruction);
  }

  // Push changed tables: nodes that are an ingress go last, so a relay has
  // its entry before the first frame reaches it.
  std::set<std::string> ingress_nodes;
  for (const auto& [key, t] : plan_.trees) ingress_nodes.insert(t.root());
  std::vector<std::string> order;
  for (const auto& [id, s] : nodes_) {
    if (!ingress_nodes.contains(id)) order.push_back(id);
  }
  for (const std::string& id : ingress_nodes) order.push_back(id);
  for (const std::string& id : order) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) continue;
    Session& s = it->second;
    auto planned = plan_.tables.find(id);
    std::vector<v1::FlowEntry> table =
        planned == plan_.tables.end() ? std::vector<v1::FlowEntry>{} : planned->second;
    if (s.version_sent != 0 && SameTable(table, s.table)) continue;
    s.table = table;
    s.version_sent = next_version_++;
    v1::NodeInstruction instruction;
    v1::ForwardingTable* t = instruction.mutable_table();
    t->set_version(s.version_sent);
    for (v1::FlowEntry& e : table) *t->add_flows() = std::move(e);
    spdlog::debug("table v{} to {}: {} flow(s)", s.version_sent, id, t->flows_size());
    s.channel->Send(instruction);
  }
}

void ControllerCore::PushPolicies(Session* only) {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) {
    spdlog::error("cannot read policies: {}", std::string(policies.status().message()));
    return;
  }
  v1::NodeInstruction instruction;
  v1::PolicyUpdate* update = instruction.mutable_policies();  // set even when empty
  for (v1::GroupPolicy& p : *policies) *update->add_policies() = p;
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
  absl::MutexLock lock(&mu_);
  if (absl::Status s = store_.SetPolicy(policy); !s.ok()) return s;
  spdlog::info("policy of group {} set: {} allowed source(s)", policy.group(),
               policy.allowed_sources_size());
  // Sources refused under the old policy are judged again.
  for (auto& [id, s] : nodes_) {
    for (auto it = s.rejected.begin(); it != s.rejected.end();) {
      it = it->first.first == policy.group() ? s.rejected.erase(it) : std::next(it);
    }
  }
  PushPolicies(nullptr);
  Replan();
  return absl::OkStatus();
}

v1::ListNodesResponse ControllerCore::ListNodes() const {
  absl::MutexLock lock(&mu_);
  v1::ListNodesResponse response;
  for (const auto& [id, s] : nodes_) {
    v1::NodeSummary* n = response.add_nodes();
    n->set_node_id(id);
    n->set_data_address(s.hello.data_address());
    n->set_client_address(s.hello.client_address());
    n->set_max_fanout(s.hello.max_fanout());
    n->set_upload_bps(s.hello.upload_bps());
    for (const auto& [group, filter] : s.membership) n->add_groups(group);
    n->set_table_version_sent(s.version_sent);
    n->set_table_version_applied(s.version_applied);
  }
  return response;
}

absl::StatusOr<v1::ListGroupsResponse> ControllerCore::ListGroups() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::GroupSummary> groups;
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = store_.AllPolicies();
  if (!policies.ok()) return policies.status();
  for (const v1::GroupPolicy& p : *policies) {
    v1::GroupSummary& g = groups[p.group()];
    *g.mutable_allowed_sources() = p.allowed_sources();
  }
  for (const auto& [id, s] : nodes_) {
    for (const auto& [group, filter] : s.membership) groups[group].add_member_nodes(id);
    for (const SourceKey& key : s.sources) {
      v1::SourceAt* at = groups[key.first].add_sources();
      at->set_source(key.second);
      at->set_node_id(id);
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
  v1::GetTreeResponse response;
  response.set_group(request.group());
  bool known = false;
  for (const auto& [id, s] : nodes_) {
    if (s.membership.contains(request.group())) known = true;
  }
  for (const auto& [key, t] : plan_.trees) {
    if (key.first != request.group()) continue;
    known = true;
    if (!request.source().empty() && key.second != request.source()) continue;
    *response.add_trees() = t;
  }
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("group '", request.group(), "' has no members and no sources"));
  }
  if (!request.source().empty() && response.trees().empty()) {
    return absl::NotFoundError(absl::StrCat("source '", request.source(),
                                            "' does not publish to group '", request.group(), "'"));
  }
  return response;
}

}  // namespace canopy::controller
