#include "tree/incremental.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tree/fanout.h"
#include "tree/internal/local_search.h"
#include "tree/internal/steiner_core.h"
#include "tree/rooted_tree_util.h"
#include "tree/shortest_paths.h"

namespace canopy::tree {

absl::Status GraftMember(const OverlayGraph& graph, VertexId member, RootedTree& tree) {
  const int32_t n = graph.VertexCount();
  if (member < 0 || member >= n) {
    return absl::InvalidArgumentError(absl::StrCat("member ", member, " is not a vertex"));
  }
  if (tree.Contains(member)) return absl::OkStatus();
  std::vector<int32_t> kids = ChildCounts(tree);
  auto has_slot = [&](VertexId v) {
    int32_t limit = graph.Vertex(v).max_fanout;
    return limit <= 0 || kids[v] < limit;
  };
  PathLabels labels(n);
  labels.Seed(member, 0);
  const VertexId sources[] = {member};
  const VertexId target =
      ShortestPaths(
          graph, sources, SearchLimits{}, labels,
          [&](const Edge& e) { return !tree.Contains(e.v) || has_slot(e.v); },
          [&](VertexId v) { return v != member && tree.Contains(v); })
          .target;
  if (target == kNoVertex) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot graft ", graph.Vertex(member).name,
                     ": no path to a tree vertex with a free fan-out slot"));
  }
  for (VertexId x = target; x != member; x = labels.Pred(x)) tree.parent[labels.Pred(x)] = x;
  tree.cost += labels.Dist(target);
  return absl::OkStatus();
}

absl::Status PruneMember(const OverlayGraph& graph, VertexId member,
                         absl::Span<const VertexId> remaining_members, RootedTree& tree) {
  const int32_t n = graph.VertexCount();
  if (member < 0 || member >= n || !tree.Contains(member)) {
    return absl::InvalidArgumentError(absl::StrCat("member ", member, " is not in the tree"));
  }
  std::vector<char> keep(n, 0);
  for (VertexId m : remaining_members) {
    if (m >= 0 && m < n && m != member) keep[m] = 1;
  }
  PruneUnmarkedLeaves(keep, tree);
  return RecomputeCost(graph, tree);
}

absl::StatusOr<Improvement> ImproveTree(const OverlayGraph& graph, const RootedTree& current,
                                        absl::Span<const VertexId> members,
                                        const SteinerOptions& options) {
  const int32_t n = graph.VertexCount();
  std::vector<VertexId> terminals(members.begin(), members.end());
  terminals.push_back(current.root);
  if (absl::Status s = internal::CheckTerminals(graph, terminals); !s.ok()) return s;
  Improvement best{current, 0};
  std::vector<char> is_terminal(n, 0);
  for (VertexId t : terminals) is_terminal[t] = 1;
  // Local search from the current tree.
  std::vector<Edge> edges;
  for (VertexId v = 0; v < n; ++v) {
    if (current.parent[v] == kNoVertex) continue;
    std::optional<int64_t> c = graph.Cost(v, current.parent[v]);
    if (!c.has_value()) return absl::InvalidArgumentError("current tree uses a non-edge");
    edges.push_back(Edge{current.parent[v], v, *c, 0});
  }
  internal::PruneLeaves(n, is_terminal, edges);
  WorkBudget budget(options.work_budget > 0 ? options.work_budget : kDefaultSteinerWork);
  internal::LocalSearch(graph, is_terminal, current.root, edges, &budget);
  std::vector<RootedTree> candidates;
  absl::StatusOr<RootedTree> local =
      RootSolution(graph, internal::Normalize(std::move(edges)), current.root);
  if (local.ok() && RepairFanout(graph, terminals, *local).ok()) candidates.push_back(*local);
  absl::StatusOr<RootedTree> fresh = SteinerRootedTree(graph, current.root, members, options);
  if (fresh.ok()) candidates.push_back(*fresh);
  for (const RootedTree& t : candidates) {
    if (current.cost - t.cost > best.gain) best = Improvement{t, current.cost - t.cost};
  }
  return best;
}

}  // namespace canopy::tree
