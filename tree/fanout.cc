#include "tree/fanout.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tree/internal/steiner_core.h"
#include "tree/shortest_paths.h"

namespace canopy::tree {

absl::StatusOr<RootedTree> RootSolution(const OverlayGraph& graph,
                                        const SteinerSolution& solution, VertexId root) {
  const int32_t n = graph.VertexCount();
  if (root < 0 || root >= n) {
    return absl::InvalidArgumentError(absl::StrCat("root ", root, " is not a vertex"));
  }
  RootedTree tree;
  tree.root = root;
  tree.parent.assign(n, kNoVertex);
  tree.cost = solution.cost;
  std::vector<std::vector<std::pair<VertexId, int64_t>>> adj(n);
  for (const Edge& e : solution.edges) {
    adj[e.u].push_back({e.v, e.cost});
    adj[e.v].push_back({e.u, e.cost});
  }
  if (!solution.edges.empty() && adj[root].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("root ", graph.Vertex(root).name, " is not in the tree"));
  }
  std::vector<char> seen(n, 0);
  std::vector<VertexId> stack = {root};
  seen[root] = 1;
  while (!stack.empty()) {
    VertexId v = stack.back();
    stack.pop_back();
    for (auto [w, c] : adj[v]) {
      if (seen[w]) continue;
      seen[w] = 1;
      tree.parent[w] = v;
      stack.push_back(w);
    }
  }
  return tree;
}

absl::Status RepairFanout(const OverlayGraph& graph, absl::Span<const VertexId> members,
                          RootedTree& tree) {
  const int32_t n = graph.VertexCount();
  auto limit = [&](VertexId v) { return graph.Vertex(v).max_fanout; };
  std::vector<int32_t> children = ChildCounts(tree);
  bool violated = false;
  for (VertexId v = 0; v < n; ++v) {
    if (limit(v) > 0 && children[v] > limit(v)) violated = true;
  }
  if (!violated) return absl::OkStatus();

  // Cut the most expensive surplus child links.
  std::vector<std::vector<VertexId>> kids(n);
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex) kids[tree.parent[v]].push_back(v);
  }
  std::vector<VertexId> detached;
  for (VertexId v = 0; v < n; ++v) {
    if (limit(v) <= 0 || children[v] <= limit(v)) continue;
    std::vector<std::pair<int64_t, VertexId>> by_cost;
    for (VertexId c : kids[v]) by_cost.push_back({graph.Cost(v, c).value_or(0), c});
    std::sort(by_cost.begin(), by_cost.end(), std::greater<>());
    for (int32_t i = 0; i < children[v] - limit(v); ++i) {
      VertexId c = by_cost[i].second;
      tree.parent[c] = kNoVertex;
      detached.push_back(c);
    }
    children[v] = limit(v);
  }
  // in_main: reachable from the root; owner: which detached subtree a vertex
  // belongs to.
  std::vector<char> in_main(n, 0);
  auto reaches_root = [&](VertexId v) {
    VertexId x = v;
    while (tree.parent[x] != kNoVertex) x = tree.parent[x];
    return x == tree.root;
  };
  std::vector<char> in_any(n, 0);
  for (VertexId v = 0; v < n; ++v) {
    if (tree.Contains(v) || std::find(detached.begin(), detached.end(), v) != detached.end()) {
      in_any[v] = 1;
      if (reaches_root(v)) in_main[v] = 1;
    }
  }
  in_main[tree.root] = 1;
  auto subtree_of = [&](VertexId r) {
    std::vector<VertexId> out;
    for (VertexId v = 0; v < n; ++v) {
      if (!in_any[v] || in_main[v]) continue;
      VertexId x = v;
      while (x != r && tree.parent[x] != kNoVertex) x = tree.parent[x];
      if (x == r) out.push_back(v);
    }
    return out;
  };
  std::sort(detached.begin(), detached.end());
  PathLabels labels(n);
  for (VertexId r : detached) {
    // Shortest path from r through vertices in no tree part to a main-tree
    // vertex with a free slot.
    labels.Reset();
    labels.Seed(r, 0);
    const VertexId sources[] = {r};
    auto allowed = [&](const Edge& e) {
      const VertexId w = e.v;
      if (in_main[w]) return !(limit(w) > 0 && children[w] >= limit(w));
      return !in_any[w];
    };
    const VertexId target =
        ShortestPaths(graph, sources, SearchLimits{}, labels, allowed,
                      [&](VertexId v) { return in_main[v] != 0; })
            .target;
    if (target == kNoVertex) {
      return absl::FailedPreconditionError(
          absl::StrCat("fan-out limits leave no feasible tree: cannot attach ",
                       graph.Vertex(r).name));
    }
    for (VertexId x = target; x != r; x = labels.Pred(x)) {
      tree.parent[labels.Pred(x)] = x;
      ++children[x];
    }
    for (VertexId v : subtree_of(r)) in_main[v] = 1;
    for (VertexId x = target; x != kNoVertex; x = labels.Pred(x)) {
      in_main[x] = 1;
      in_any[x] = 1;
    }
  }
  std::vector<char> keep(n, 0);
  for (VertexId m : members) keep[m] = 1;
  PruneUnmarkedLeaves(keep, tree);
  return RecomputeCost(graph, tree);
}

}  // namespace canopy::tree
