#include "controller/shared_cost_strategy.h"

#include <set>
#include <utility>

#include "spdlog/spdlog.h"
#include "tree/flow_tree.h"
#include "tree/incremental.h"
#include "tree/steiner.h"

namespace canopy::controller {

Replanned SharedCostStrategy::WholeGroup(const std::string& group) const {
  const std::set<SourceKey>& flows = context_.FlowsOfGroup(group);
  return {.refresh = {flows.begin(), flows.end()}, .changed_groups = {group}};
}

Replanned SharedCostStrategy::Added(const SourceKey& key) {
  RebuildShared(key.first);
  return WholeGroup(key.first);
}

Replanned SharedCostStrategy::Removed(const SourceKey& key) {
  if (context_.FlowsOfGroup(key.first).empty()) {
    shared_.erase(key.first);
    return {};
  }
  RebuildShared(key.first);
  return WholeGroup(key.first);
}

void SharedCostStrategy::GraphGrew(int32_t vertex_count) {
  for (auto& [group, shared] : shared_) shared.tree.parent.resize(vertex_count, tree::kNoVertex);
}

void SharedCostStrategy::RebuildShared(const std::string& group) {
  const std::set<SourceKey>& flows = context_.FlowsOfGroup(group);
  SharedTree shared;
  for (const SourceKey& key : flows) {
    const Flow& flow = context_.FlowOf(key);
    if (tree::VertexId r = context_.VertexOf(flow.ingress); r != tree::kNoVertex) {
      ++shared.terminals[r];
    }
    for (tree::VertexId v : flow.wanted) ++shared.terminals[v];
  }
  if (shared.terminals.empty()) {
    shared_.erase(group);
    return;
  }
  // Anchored at an ingress; terminals it cannot reach stay out (their
  // flows report them unreachable).
  tree::VertexId anchor = shared.terminals.begin()->first;
  for (const SourceKey& key : flows) {
    if (tree::VertexId r = context_.VertexOf(context_.FlowOf(key).ingress); r != tree::kNoVertex) {
      anchor = r;
      break;
    }
  }
  std::set<tree::VertexId> others;
  for (const auto& [v, refs] : shared.terminals) {
    if (v != anchor) others.insert(v);
  }
  const std::set<tree::VertexId> reachable = context_.ReachableMembers(anchor, others);
  std::erase_if(shared.terminals,
                [&](const auto& t) { return t.first != anchor && !reachable.contains(t.first); });
  std::vector<tree::VertexId> members(reachable.begin(), reachable.end());
  tree::SteinerOptions options;
  options.work_budget = context_.steiner_work();
  absl::StatusOr<tree::RootedTree> t =
      tree::SteinerRootedTree(context_.graph(), anchor, members, options);
  if (!t.ok()) {
    spdlog::error("no shared tree for group {}: {}", group, t.status().ToString());
    shared.tree = context_.EmptyTree(anchor);
  } else {
    shared.tree = *std::move(t);
  }
  shared_[group] = std::move(shared);
  DeriveSharedFlows(group);
}

void SharedCostStrategy::DeriveSharedFlows(const std::string& group) {
  auto shared = shared_.find(group);
  if (shared == shared_.end()) return;
  for (const SourceKey& key : context_.FlowsOfGroup(group)) {
    Flow& flow = context_.FlowOf(key);
    flow.tree =
        tree::DeriveFromShared(shared->second.tree, context_.VertexOf(flow.ingress), flow.wanted);
  }
}

Replanned SharedCostStrategy::WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v,
                                            bool wants) {
  SharedTree& shared = shared_[key.first];
  int& refs = shared.terminals[v];
  refs += wants ? 1 : -1;
  absl::Status s = absl::OkStatus();
  if (wants && refs == 1) {
    s = tree::GraftMember(context_.graph(), v, shared.tree);
  } else if (!wants && refs == 0) {
    shared.terminals.erase(v);
    std::vector<tree::VertexId> remaining;
    for (const auto& [t, n] : shared.terminals) remaining.push_back(t);
    if (shared.tree.Contains(v)) {
      s = tree::PruneMember(context_.graph(), v, remaining, shared.tree);
    }
  }
  if (!s.ok()) {
    spdlog::warn("group {}: incremental change failed ({}); re-planning the group", key.first,
                 s.ToString());
    RebuildShared(key.first);
  } else {
    DeriveSharedFlows(key.first);
  }
  return WholeGroup(key.first);
}

Replanned SharedCostStrategy::Heal(const std::vector<SourceKey>& keys) {
  std::set<std::string> groups;
  for (const SourceKey& key : keys) groups.insert(key.first);
  Replanned out;
  for (const std::string& group : groups) {
    RebuildShared(group);
    out.Merge(WholeGroup(group));
  }
  return out;
}

Replanned SharedCostStrategy::Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed,
                                         double keep) {
  Replanned out;
  // Every pass: local search may find a cheaper tree even without new RTTs
  // (an incremental graft is no optimum).
  std::vector<std::string> groups;
  for (const auto& [group, shared] : shared_) groups.push_back(group);
  for (const std::string& group : groups) {
    SharedTree& shared = shared_.at(group);
    std::vector<tree::VertexId> members;
    for (const auto& [v, refs] : shared.terminals) {
      if (v != shared.tree.root) members.push_back(v);
    }
    const int64_t before = tree::TreeCost(context_.graph(), shared.tree);
    tree::SteinerOptions options;
    options.work_budget = context_.steiner_work();
    absl::StatusOr<tree::Improvement> better =
        before == tree::kInvalidCost
            ? absl::StatusOr<tree::Improvement>(absl::InternalError(""))
            : tree::ImproveTree(context_.graph(), shared.tree, members, options);
    if (before == tree::kInvalidCost || !better.ok()) {
      RebuildShared(group);
    } else if (better->gain > 0 && before - better->gain < before * keep) {
      shared.tree = std::move(better->tree);
      DeriveSharedFlows(group);
    } else {
      ++out.skipped;
      continue;
    }
    out.Merge(WholeGroup(group));
    ++out.applied;
  }
  return out;
}

}  // namespace canopy::controller
