#include "tree/shortest_path_tree.h"

#include <functional>
#include <limits>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tree/shortest_paths.h"

namespace canopy::tree {
namespace {

// Removes, repeatedly, leaves that are neither members nor the root.
void PruneNonMemberLeaves(const OverlayGraph& graph,
                          const std::vector<bool>& is_member,
                          RootedTree& tree) {
  const int32_t n = graph.VertexCount();
  std::vector<int32_t> children(n, 0);
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex) ++children[tree.parent[v]];
  }
  std::vector<VertexId> leaves;
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex && children[v] == 0 && !is_member[v]) {
      leaves.push_back(v);
    }
  }
  while (!leaves.empty()) {
    VertexId v = leaves.back();
    leaves.pop_back();
    VertexId p = tree.parent[v];
    tree.parent[v] = kNoVertex;
    if (p != tree.root && --children[p] == 0 && !is_member[p]) {
      leaves.push_back(p);
    }
  }
}


// Grows the tree from `root` Prim-style on shortest distances: repeatedly
// attaches the outside vertex with the smallest distance through an inside
// vertex that still has a free fan-out slot. Lazy binary heap: O(E log E).
// Kept by hand: with fan-out limits a vertex's label depends on which
// parents still have slots when it is attached, which is not a
// shortest-path problem Boost's Dijkstra (ShortestPaths) can express.
void GrowWithHeap(const OverlayGraph& graph, VertexId root, RootedTree& tree,
                  std::vector<bool>& in_tree) {
  const int32_t n = graph.VertexCount();
  std::vector<int64_t> dist(n, -1);
  std::vector<int32_t> children(n, 0);
  // Candidate attachment: (distance via parent, vertex, parent). Entries whose
  // parent has since filled its fan-out are skipped when popped.
  using Candidate = std::tuple<int64_t, VertexId, VertexId>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto admit = [&](VertexId v) {
    in_tree[v] = true;
    for (const Edge& e : graph.Adjacent(v)) {
      if (!in_tree[e.v]) heap.emplace(dist[v] + e.cost, e.v, v);
    }
  };
  dist[root] = 0;
  admit(root);
  while (!heap.empty()) {
    auto [d, v, p] = heap.top();
    heap.pop();
    if (in_tree[v]) continue;
    const int32_t limit = graph.Vertex(p).max_fanout;
    if (limit > 0 && children[p] >= limit) continue;
    ++children[p];
    tree.parent[v] = p;
    dist[v] = d;
    admit(v);
  }
}

// The same tree for graphs without fan-out limits, by scanning an array of
// best distances instead of a heap: O(V² + E), much faster on dense overlays
// (a full mesh has E ≈ V²/2). Ties go to the lower vertex id, as with the
// heap.
void GrowDense(const OverlayGraph& graph, VertexId root, RootedTree& tree,
               std::vector<bool>& in_tree) {
  const int32_t n = graph.VertexCount();
  constexpr int64_t kUnreached = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> best(n, kUnreached);
  std::vector<VertexId> via(n, kNoVertex);
  best[root] = 0;
  for (VertexId u = root; u != kNoVertex;) {
    in_tree[u] = true;
    tree.parent[u] = via[u];
    for (const Edge& e : graph.Adjacent(u)) {
      const int64_t d = best[u] + e.cost;
      if (in_tree[e.v]) continue;
      if (d < best[e.v] || (d == best[e.v] && u < via[e.v])) {
        best[e.v] = d;
        via[e.v] = u;
      }
    }
    VertexId next = kNoVertex;
    for (VertexId v = 0; v < n; ++v) {
      if (!in_tree[v] && best[v] != kUnreached && (next == kNoVertex || best[v] < best[next])) {
        next = v;
      }
    }
    u = next;
  }
}

// The tree of shortest paths when no vertex limits its fan-out. Ties go to
// the lower parent id, as in GrowWithHeap.
void GrowShortest(const OverlayGraph& graph, VertexId root, RootedTree& tree,
                  std::vector<bool>& in_tree) {
  PathLabels labels(graph.VertexCount());
  labels.Seed(root, 0);
  SearchLimits limits;
  limits.ties_to_lower_id = true;
  const VertexId sources[] = {root};
  ShortestPaths(graph, sources, limits, labels);
  for (VertexId v = 0; v < graph.VertexCount(); ++v) {
    if (labels.Dist(v) >= kUnreachable) continue;
    in_tree[v] = true;
    tree.parent[v] = labels.Pred(v);
  }
}

bool HasFanoutLimits(const OverlayGraph& graph) {
  for (VertexId v = 0; v < graph.VertexCount(); ++v) {
    if (graph.Vertex(v).max_fanout > 0) return true;
  }
  return false;
}

// Dense graphs without fan-out limits take the array-scan growth.
bool UseDenseGrowth(const OverlayGraph& graph) {
  const int64_t n = graph.VertexCount();
  int64_t degree_sum = 0;
  for (VertexId v = 0; v < n; ++v) {
    if (graph.Vertex(v).max_fanout > 0) return false;
    degree_sum += static_cast<int64_t>(graph.Adjacent(v).size());
  }
  return degree_sum * 4 >= n * n;  // at least a quarter of all pairs linked
}

}  // namespace

absl::StatusOr<RootedTree> ShortestPathTree(const OverlayGraph& graph,
                                            VertexId root,
                                            absl::Span<const VertexId> members) {
  const int32_t n = graph.VertexCount();
  if (root < 0 || root >= n) {
    return absl::InvalidArgumentError(absl::StrCat("root ", root, " is not a vertex"));
  }
  std::vector<bool> is_member(n, false);
  for (VertexId m : members) {
    if (m < 0 || m >= n) {
      return absl::InvalidArgumentError(absl::StrCat("member ", m, " is not a vertex"));
    }
    is_member[m] = true;
  }

  RootedTree tree;
  tree.root = root;
  tree.parent.assign(n, kNoVertex);
  std::vector<bool> in_tree(n, false);
  if (UseDenseGrowth(graph)) {
    GrowDense(graph, root, tree, in_tree);
  } else if (HasFanoutLimits(graph)) {
    GrowWithHeap(graph, root, tree, in_tree);
  } else {
    GrowShortest(graph, root, tree, in_tree);
  }

  std::vector<std::string> unreachable;
  for (VertexId m : members) {
    if (!in_tree[m]) unreachable.push_back(graph.Vertex(m).name);
  }
  if (!unreachable.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot reach members from ", graph.Vertex(root).name, ": ",
                     absl::StrJoin(unreachable, ", ")));
  }

  PruneNonMemberLeaves(graph, is_member, tree);
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex) tree.cost += graph.Cost(v, tree.parent[v]).value_or(0);
  }
  return tree;
}

}  // namespace canopy::tree
