#include "controller/planner.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "controller/table_compiler.h"
#include "google/protobuf/util/message_differencer.h"
#include "proto/source_filter.h"
#include "spdlog/spdlog.h"
#include "tree/reachability.h"
#include "xxhash.h"

namespace canopy::controller {

using tree::kNoVertex;
using tree::RootedTree;
using tree::VertexId;

Planner::Planner(PlannerOptions options, IdSource& ids)
    : options_(options),
      ids_(ids),
      multicast_base_(options.multicast_base),
      multicast_prefix_(options.multicast_prefix),
      multicast_port_(options.multicast_port),
      topology_(TopologyOptions{.default_cost_us = options.default_link_cost_us,
                                .probes = options.probes}) {}

// ---- Inputs ---------------------------------------------------------------

void Planner::AddNode(const NodeSpec& spec) {
  if (vertex_.contains(spec.id)) RemoveNode(spec.id);
  for (std::string& node : topology_.AddNode(spec)) probe_changes_.insert(std::move(node));
  nodes_.try_emplace(spec.id);
  // A new node has no members or sources yet. It joins the graph as a new
  // vertex; trees that miss a member are re-planned (it may be the missing
  // link), the others use it from the next re-plan on.
  const VertexId v = topology_.ExtendGraph(spec.id, graph_, names_, vertex_);
  vertex_[spec.id] = v;
  reach_.clear();
  changed_nodes_.insert(spec.id);  // its first (empty) table is news to it
  const int32_t n = graph_.VertexCount();
  for (auto& [key, flow] : flows_) {
    if (flow.latency) flow.latency->Grow(n);
    flow.tree.parent.resize(n, kNoVertex);
  }
  for (ProfileStrategy* strategy : AllStrategies()) strategy->GraphGrew(n);
  Heal();
}

void Planner::RemoveNode(const std::string& id) {
  if (auto it = nodes_.find(id); it != nodes_.end()) {
    for (const auto& [group, filter] : it->second.membership) touched_groups_.insert(group);
    for (const SourceKey& k : it->second.sources) touched_groups_.insert(k.first);
    Index(id, it->second, /*present=*/false);
  }
  for (std::string& node : topology_.RemoveNode(id)) probe_changes_.insert(std::move(node));
  probe_changes_.erase(id);
  nodes_.erase(id);
  tables_.erase(id);
  cut_off_.erase(id);
  changed_nodes_.erase(id);
  for (auto& [key, holders] : flow_nodes_) holders.erase(id);
  for (auto it = rejected_.begin(); it != rejected_.end();) {
    it = it->first.first == id ? rejected_.erase(it) : std::next(it);
  }
  ReconcileSources();
  ReplanAll();
}

bool Planner::SetMulticastDomains(std::map<std::string, std::string> domain_of) {
  if (!topology_.SetMulticastDomains(std::move(domain_of))) return false;
  ReplanAll();
  return true;
}

bool Planner::AnyMulticastDomain() const {
  for (VertexId v = 0; v < graph_.VertexCount(); ++v) {
    if (!graph_.Vertex(v).lan.empty()) return true;
  }
  return false;
}

std::string Planner::MulticastAddressOf(const std::string& group) const {
  const int host_bits = 32 - std::clamp(multicast_prefix_, 4, 30);
  const uint64_t span = uint64_t{1} << host_bits;
  // Skip the range's first and last address.
  const uint32_t offset =
      static_cast<uint32_t>(1 + XXH3_64bits(group.data(), group.size()) % (span - 2));
  const uint32_t a = (multicast_base_ & ~static_cast<uint32_t>(span - 1)) + offset;
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xFF, ".", (a >> 8) & 0xFF, ".", a & 0xFF, ":",
                      multicast_port_);
}

void Planner::SetMulticastMapping(uint32_t base, int prefix, uint16_t port) {
  if (base == multicast_base_ && prefix == multicast_prefix_ && port == multicast_port_) return;
  multicast_base_ = base;
  multicast_prefix_ = prefix;
  multicast_port_ = port;
  ReplanAll();
}

void Planner::SetStaticLinks(std::vector<StaticLink> links) {
  topology_.SetStaticLinks(std::move(links));
  ReplanAll();
}

void Planner::ReportRtts(const std::string& node,
                         const std::vector<std::pair<std::string, uint64_t>>& rtts) {
  topology_.ReportRtts(node, rtts);
  rtts_changed_ = true;
}

void Planner::ReportCoordinate(const std::string& node, const NetworkCoordinate& coordinate) {
  if (topology_.ReportCoordinate(node, coordinate)) probe_changes_.insert(node);
  rtts_changed_ = true;
}

std::vector<std::string> Planner::TakeProbeChanges() {
  std::set<std::string> changed = std::exchange(probe_changes_, {});
  return {changed.begin(), changed.end()};
}

v1::ProbePeers Planner::ProbePeersOf(const std::string& node) const {
  v1::ProbePeers out;
  for (const std::string& peer : topology_.probes().PeersOf(node)) {
    auto spec = topology_.nodes().find(peer);
    if (spec == topology_.nodes().end()) continue;
    v1::Hop* hop = out.add_peers();
    hop->set_node_id(peer);
    hop->set_data_address(spec->second.data_address);
    if (const NetworkCoordinate* c = topology_.probes().CoordinateOf(peer)) {
      *hop->mutable_coordinate() = CoordinateToProto(*c);
    }
  }
  return out;
}

void Planner::SetPolicy(const v1::GroupPolicy& policy) {
  policies_[policy.group()] = policy;
  ReconcileSources();
  const std::string& group = policy.group();
  for (ProfileStrategy* strategy : AllStrategies()) strategy->Forget(group);
  auto flows = flows_of_group_.find(group);
  if (flows == flows_of_group_.end()) return;
  for (const SourceKey& key : flows->second) {
    Flow& flow = flows_.at(key);
    flow.profile = ProfileOf(group);
    BuildFlow(key, flow);
  }
  StrategyOf(ProfileOf(group)).Rebuilt(group);
  for (const SourceKey& key : flows->second) RefreshEntries(key);
  MarkChanged(group);
}

void Planner::SetMembership(const std::string& node,
                            std::map<std::string, v1::SourceFilter> membership) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  Index(node, it->second, /*present=*/false);
  std::map<std::string, v1::SourceFilter> old = std::move(it->second.membership);
  it->second.membership = std::move(membership);
  Index(node, it->second, /*present=*/true);
  std::set<std::string> groups;
  for (const auto& [g, f] : old) groups.insert(g);
  for (const auto& [g, f] : it->second.membership) groups.insert(g);
  touched_groups_.insert(groups.begin(), groups.end());
  const VertexId v = VertexOf(node);
  for (const std::string& group : groups) {
    auto flows = flows_of_group_.find(group);
    if (flows == flows_of_group_.end()) continue;
    for (const SourceKey& key : flows->second) {
      const Flow& flow = flows_.at(key);
      auto old_filter = old.find(group);
      const bool wanted_before = old_filter != old.end() && Admits(old_filter->second, key.second);
      const bool wanted_now = NodeWants(node, key);
      if (wanted_before == wanted_now) continue;
      ++stats_.incremental_changes;
      if (flow.ingress == node) {
        RefreshEntries(key);  // only local delivery at the ingress changes
      } else if (v != kNoVertex) {
        SetWanted(key, v, wanted_now);
      }
    }
  }
}

void Planner::SetSources(const std::string& node, std::set<SourceKey> sources) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  if (it->second.sources == sources) return;
  for (const SourceKey& k : it->second.sources) touched_groups_.insert(k.first);
  for (const SourceKey& k : sources) touched_groups_.insert(k.first);
  Index(node, it->second, /*present=*/false);
  it->second.sources = std::move(sources);
  Index(node, it->second, /*present=*/true);
  ReconcileSources();
}

// ---- Planning ---------------------------------------------------------------

VertexId Planner::VertexOf(const std::string& node) const {
  auto it = vertex_.find(node);
  return it == vertex_.end() ? kNoVertex : it->second;
}

RootedTree Planner::EmptyTree(VertexId root) const {
  RootedTree t;
  t.root = root;
  t.parent.assign(graph_.VertexCount(), kNoVertex);
  return t;
}

v1::TreeProfile Planner::ProfileOf(const std::string& group) const {
  auto it = policies_.find(group);
  if (it == policies_.end() || it->second.profile() == v1::TREE_PROFILE_UNSPECIFIED) {
    return v1::TREE_PROFILE_LATENCY;
  }
  return it->second.profile();
}

bool Planner::Allowed(const SourceKey& key) const {
  auto it = policies_.find(key.first);
  if (it == policies_.end() || it->second.allowed_sources().empty()) return true;
  const auto& allowed = it->second.allowed_sources();
  const absl::string_view base = BaseSourceId(key.second);
  return std::find(allowed.begin(), allowed.end(), base) != allowed.end();
}

bool Planner::NodeWants(const std::string& node, const SourceKey& key) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return false;
  auto filter = it->second.membership.find(key.first);
  return filter != it->second.membership.end() && Admits(filter->second, key.second);
}

std::set<VertexId> Planner::WantedSet(const SourceKey& key, const std::string& ingress) const {
  std::set<VertexId> wanted;
  for (const auto& [node, state] : nodes_) {
    if (node == ingress || !NodeWants(node, key)) continue;
    if (VertexId v = VertexOf(node); v != kNoVertex) wanted.insert(v);
  }
  return wanted;
}

void Planner::RebuildGraph() {
  graph_ = topology_.BuildGraph(names_);
  reach_.clear();
  vertex_.clear();
  for (VertexId v = 0; v < static_cast<VertexId>(names_.size()); ++v) vertex_[names_[v]] = v;
  rtts_changed_ = false;
}

void Planner::ReplanAll() {
  // Re-plans every flow from scratch on a freshly built graph.
  const absl::Time start = absl::Now();
  RebuildGraph();
  for (ProfileStrategy* strategy : AllStrategies()) strategy->ForgetAll();
  for (auto& [key, flow] : flows_) BuildFlow(key, flow);
  for (const auto& [group, keys] : flows_of_group_) StrategyOf(ProfileOf(group)).Rebuilt(group);
  for (const auto& [key, flow] : flows_) RefreshEntries(key);
  for (const auto& [key, flow] : flows_) MarkChanged(key.first);
  ++stats_.full_plans;
  stats_.last_full_plan_us = static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
}

void Planner::Reject(const std::string& node, const SourceKey& key, std::string reason) {
  auto [it, inserted] = rejected_.try_emplace({node, key}, reason);
  if (!inserted) return;
  spdlog::info("refusing source {} on group {} at node {}: {}", key.second, key.first, node,
               reason);
  new_rejections_.push_back(Rejection{node, key, std::move(reason)});
}

void Planner::ReconcileSources() {
  std::map<SourceKey, std::string> ingress;
  std::set<std::pair<std::string, SourceKey>> still_rejected;
  for (const auto& [node, state] : nodes_) {
    for (const SourceKey& key : state.sources) {
      if (!Allowed(key)) {
        const auto& allowed = policies_.at(key.first).allowed_sources();
        Reject(node, key,
               absl::StrCat("source '", key.second, "' may not publish to group '", key.first,
                            "' (allowed: ", absl::StrJoin(allowed, ", "), ")"));
        still_rejected.insert({node, key});
        continue;
      }
      auto [it, inserted] = ingress.emplace(key, node);
      if (!inserted) {
        Reject(node, key,
               absl::StrCat("source '", key.second, "' already publishes to group '", key.first,
                            "' through node ", it->second));
        still_rejected.insert({node, key});
      }
    }
  }
  // Forget rejections that no longer hold, so a later refusal is told again.
  for (auto it = rejected_.begin(); it != rejected_.end();) {
    it = still_rejected.contains(it->first) ? std::next(it) : rejected_.erase(it);
  }
  std::vector<SourceKey> gone;
  for (const auto& [key, flow] : flows_) {
    auto want = ingress.find(key);
    if (want == ingress.end() || want->second != flow.ingress) gone.push_back(key);
  }
  for (const SourceKey& key : gone) RemoveFlow(key);
  for (const auto& [key, node] : ingress) {
    if (!flows_.contains(key)) CreateFlow(key, node);
  }
}

void Planner::CreateFlow(const SourceKey& key, const std::string& ingress) {
  absl::StatusOr<uint32_t> handle = ids_.GroupHandle(key.first);
  absl::StatusOr<uint32_t> source_id = ids_.SourceId(key.first, key.second);
  if (!handle.ok() || !source_id.ok()) {
    spdlog::error("no ids for source {} of group {}: {}", key.second, key.first,
                  (handle.ok() ? source_id.status() : handle.status()).ToString());
    return;
  }
  Flow& flow = flows_[key];
  flow.ingress = ingress;
  flow.group_handle = *handle;
  flow.source_id = *source_id;
  flow.profile = ProfileOf(key.first);
  flows_of_group_[key.first].insert(key);
  BuildFlow(key, flow);
  Apply(StrategyOf(flow.profile).Added(key));
  MarkChanged(key.first);
}

void Planner::RemoveFlow(const SourceKey& key) {
  auto holders = flow_nodes_.find(key);
  if (holders != flow_nodes_.end()) {
    for (const std::string& node : holders->second) {
      tables_[node].erase(key);
      changed_nodes_.insert(node);
    }
    flow_nodes_.erase(holders);
  }
  const v1::TreeProfile profile = flows_.at(key).profile;
  for (const auto& [node, reason] : flows_.at(key).unreachable) {
    auto cut = cut_off_.find(node);
    if (cut != cut_off_.end() && cut->second.erase(key) > 0) changed_nodes_.insert(node);
  }
  incomplete_.erase(key);
  flows_.erase(key);
  auto group_flows = flows_of_group_.find(key.first);
  group_flows->second.erase(key);
  if (group_flows->second.empty()) flows_of_group_.erase(group_flows);
  Apply(StrategyOf(profile).Removed(key));
  // The other stripes of a set keep their trees: a set whose publisher is
  // done goes away stripe by stripe, and moving the rest would relink
  // transfers still in flight.
  MarkChanged(key.first);
}

void Planner::BuildFlow(const SourceKey& key, Flow& flow) {
  const VertexId root = VertexOf(flow.ingress);
  flow.wanted = WantedSet(key, flow.ingress);
  flow.latency.reset();
  flow.via_lan.clear();
  flow.build_error.clear();
  flow.bulk.reset();
  flow.tree = EmptyTree(root);
  if (root == kNoVertex) return;
  StrategyOf(flow.profile).Build(key, flow);
}

std::array<ProfileStrategy*, 5> Planner::AllStrategies() {
  return {&latency_, &shared_cost_, &bulk_, &lan_latency_, &lan_cost_};
}

ProfileStrategy& Planner::StrategyOf(v1::TreeProfile profile) {
  switch (profile) {
    case v1::TREE_PROFILE_BULK:
      return bulk_;
    case v1::TREE_PROFILE_COST:
      return AnyMulticastDomain() ? static_cast<ProfileStrategy&>(lan_cost_) : shared_cost_;
    default:
      return AnyMulticastDomain() ? static_cast<ProfileStrategy&>(lan_latency_) : latency_;
  }
}

void Planner::Apply(const Replanned& replanned) {
  for (const SourceKey& key : replanned.refresh) RefreshEntries(key);
  for (const std::string& group : replanned.changed_groups) MarkChanged(group);
}

const std::set<SourceKey>& Planner::FlowsOfGroup(const std::string& group) const {
  static const std::set<SourceKey> kNone;
  auto it = flows_of_group_.find(group);
  return it == flows_of_group_.end() ? kNone : it->second;
}

void Planner::SetWanted(const SourceKey& key, VertexId v, bool wants) {
  Flow& flow = flows_.at(key);
  if (wants ? !flow.wanted.insert(v).second : flow.wanted.erase(v) == 0) return;
  Apply(StrategyOf(flow.profile).WantedChanged(key, flow, v, wants));
  MarkChanged(key.first);
}

const std::vector<char>& Planner::Reach(VertexId root) {
  static const std::vector<char> kEveryone;
  if (topology_.static_links().empty() || root == kNoVertex) return kEveryone;  // full mesh
  auto [it, inserted] = reach_.try_emplace(root);
  if (inserted) it->second = tree::ReachableFrom(graph_, root);
  return it->second;
}

std::set<VertexId> Planner::ReachableMembers(VertexId root, const std::set<VertexId>& wanted) {
  const std::vector<char>& reach = Reach(root);
  if (reach.empty()) return wanted;
  std::set<VertexId> out;
  for (VertexId v : wanted) {
    if (v >= 0 && v < static_cast<VertexId>(reach.size()) && reach[v]) out.insert(v);
  }
  return out;
}

std::string Planner::UnreachableReason(const Flow& flow, VertexId v) {
  const VertexId root = VertexOf(flow.ingress);
  const std::vector<char>& reach = Reach(root);
  if (!reach.empty() && (v >= static_cast<VertexId>(reach.size()) || !reach[v])) {
    return absl::StrCat("no overlay path from ", flow.ingress,
                        " (the static links join them through no attached node)");
  }
  if (!flow.build_error.empty()) return flow.build_error;
  return absl::StrCat("no room in the tree from ", flow.ingress,
                      " (fan-out limits or a shared tree that does not reach it)");
}

namespace {

// The key of an element of a set of keys or of a map keyed by them.
const SourceKey& KeyOf(const SourceKey& key) { return key; }
template <typename Value>
const SourceKey& KeyOf(const std::pair<const SourceKey, Value>& entry) {
  return entry.first;
}

}  // namespace

template <typename Keys>
std::map<ProfileStrategy*, std::vector<SourceKey>> Planner::ByStrategy(const Keys& keys) {
  std::map<ProfileStrategy*, std::vector<SourceKey>> out;
  for (const auto& element : keys) {
    const SourceKey& key = KeyOf(element);
    auto it = flows_.find(key);
    if (it != flows_.end()) out[&StrategyOf(it->second.profile)].push_back(key);
  }
  return out;
}

void Planner::Heal() {
  if (incomplete_.empty()) return;
  std::map<ProfileStrategy*, std::vector<SourceKey>> keys = ByStrategy(incomplete_);
  for (ProfileStrategy* strategy : AllStrategies()) {
    if (auto it = keys.find(strategy); it != keys.end()) Apply(strategy->Heal(it->second));
  }
}

void Planner::RefreshEntries(const SourceKey& key) {
  Flow& flow = flows_.at(key);
  touched_groups_.insert(key.first);
  // Wanted members the tree misses, told to them and to the ingress.
  std::map<std::string, std::string> unreachable;
  for (VertexId v : flow.wanted) {
    if (!flow.tree.Contains(v)) unreachable[names_[v]] = UnreachableReason(flow, v);
  }
  for (const auto& [node, reason] : flow.unreachable) {
    if (unreachable.contains(node)) continue;
    auto cut = cut_off_.find(node);
    if (cut != cut_off_.end() && cut->second.erase(key) > 0) changed_nodes_.insert(node);
  }
  for (const auto& [node, reason] : unreachable) {
    if (!nodes_.contains(node)) continue;
    std::string& told = cut_off_[node][key];
    if (told == reason) continue;
    if (told.empty()) {
      spdlog::warn("node {} wants source {} of group {} but cannot be reached: {}", node,
                   key.second, key.first, reason);
    }
    told = reason;
    changed_nodes_.insert(node);
  }
  if (!flow.unreachable.empty() && unreachable.empty()) {
    spdlog::info("every member of group {} is reached by source {} again", key.first, key.second);
  }
  flow.unreachable = std::move(unreachable);
  if (flow.unreachable.empty()) {
    incomplete_.erase(key);
  } else {
    incomplete_.insert(key);
  }
  const v1::GroupPolicy* policy = nullptr;
  if (auto p = policies_.find(key.first); p != policies_.end()) policy = &p->second;
  const TableContext table{
      .names = names_,
      .nodes = topology_.nodes(),
      .policy = policy,
      .multicast_address = flow.via_lan.empty() ? "" : MulticastAddressOf(key.first),
      .delivers_locally = [&](const std::string& node) { return NodeWants(node, key); }};
  std::map<std::string, v1::FlowEntry> entries = CompileFlowEntries(key, flow, table);

  std::set<std::string>& holders = flow_nodes_[key];
  for (const std::string& node : holders) {
    if (entries.contains(node)) continue;
    tables_[node].erase(key);
    changed_nodes_.insert(node);
  }
  holders.clear();
  for (auto& [node, entry] : entries) {
    holders.insert(node);
    auto& table = tables_[node];
    auto it = table.find(key);
    if (it != table.end() &&
        google::protobuf::util::MessageDifferencer::Equals(it->second, entry)) {
      continue;
    }
    table[key] = std::move(entry);
    changed_nodes_.insert(node);
  }
}

Planner::ReoptimizeResult Planner::Reoptimize() {
  ReoptimizeResult result;
  const double keep = 1.0 - options_.hysteresis_percent / 100.0;
  const bool rtts_changed = rtts_changed_;
  if (rtts_changed) RebuildGraph();
  std::map<ProfileStrategy*, std::vector<SourceKey>> keys = ByStrategy(flows_);
  for (ProfileStrategy* strategy : AllStrategies()) {
    const Replanned replanned = strategy->Reoptimize(keys[strategy], rtts_changed, keep);
    Apply(replanned);
    result.applied += replanned.applied;
    result.skipped += replanned.skipped;
  }
  stats_.reoptimizations_applied += result.applied;
  stats_.reoptimizations_skipped += result.skipped;
  return result;
}

// ---- Outputs ----------------------------------------------------------------

std::vector<std::string> Planner::TakeChangedNodes() {
  std::set<std::string> ingress;
  for (const auto& [key, flow] : flows_) ingress.insert(flow.ingress);
  std::vector<std::string> out;
  for (const std::string& n : changed_nodes_) {
    if (!ingress.contains(n)) out.push_back(n);
  }
  for (const std::string& n : changed_nodes_) {
    if (ingress.contains(n)) out.push_back(n);
  }
  changed_nodes_.clear();
  return out;
}

std::set<std::string> Planner::TakeChangedGroups() { return std::exchange(changed_groups_, {}); }

std::set<std::string> Planner::TakeTouchedGroups() { return std::exchange(touched_groups_, {}); }

void Planner::MarkChanged(const std::string& group) {
  changed_groups_.insert(group);
  touched_groups_.insert(group);
}

std::vector<Rejection> Planner::TakeRejections() { return std::exchange(new_rejections_, {}); }

void Planner::Index(const std::string& node, const NodeState& state, bool present) {
  auto update = [&](std::map<std::string, std::set<std::string>>& index, const std::string& group) {
    if (present) {
      index[group].insert(node);
      return;
    }
    auto it = index.find(group);
    if (it == index.end()) return;
    it->second.erase(node);
    if (it->second.empty()) index.erase(it);
  };
  for (const auto& [group, filter] : state.membership) update(member_nodes_, group);
  for (const SourceKey& key : state.sources) update(source_nodes_, key.first);
}

}  // namespace canopy::controller
