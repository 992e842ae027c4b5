#include "tree/flow_tree.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace canopy::tree {

absl::StatusOr<LatencyFlowTree> LatencyFlowTree::Build(const tree::OverlayGraph& graph,
                                                       VertexId root,
                                                       const std::set<VertexId>& wanted) {
  // Every vertex is a "member" of the spanning tree, so nothing is pruned.
  std::vector<VertexId> all(graph.VertexCount());
  for (VertexId v = 0; v < graph.VertexCount(); ++v) all[v] = v;
  // Vertices the root cannot reach only matter if they are wanted.
  RootedTree spanning;
  absl::StatusOr<RootedTree> full = tree::ShortestPathTree(graph, root, all);
  if (full.ok()) {
    spanning = *std::move(full);
  } else {
    std::vector<VertexId> needed(wanted.begin(), wanted.end());
    absl::StatusOr<RootedTree> partial = tree::ShortestPathTree(graph, root, needed);
    if (!partial.ok()) return partial.status();
    spanning = *std::move(partial);
  }
  return LatencyFlowTree(std::move(spanning), wanted);
}

LatencyFlowTree::LatencyFlowTree(RootedTree spanning, std::set<VertexId> wanted)
    : spanning_(std::move(spanning)) {
  tree_.root = spanning_.root;
  tree_.parent.assign(spanning_.parent.size(), kNoVertex);
  children_.assign(spanning_.parent.size(), 0);
  for (VertexId v : wanted) Join(v);  // Build() checked they are reachable
}

bool LatencyFlowTree::Join(VertexId v) {
  if (v == tree_.root || wanted_.contains(v)) {
    wanted_.insert(v);
    return true;
  }
  if (!spanning_.Contains(v)) return false;
  wanted_.insert(v);
  // Un-prune the spanning path from v up to the first vertex already in.
  for (VertexId x = v; x != tree_.root && tree_.parent[x] == kNoVertex;) {
    const VertexId p = spanning_.parent[x];
    tree_.parent[x] = p;
    ++children_[p];
    x = p;
  }
  return true;
}

void LatencyFlowTree::Leave(VertexId v) {
  if (wanted_.erase(v) == 0) return;
  // Cut v and then every ancestor that became a leaf nobody wants.
  for (VertexId x = v; x != tree_.root && children_[x] == 0 && !wanted_.contains(x);) {
    const VertexId p = tree_.parent[x];
    if (p == kNoVertex) return;
    tree_.parent[x] = kNoVertex;
    --children_[p];
    x = p;
  }
}

void LatencyFlowTree::Grow(int32_t vertex_count) {
  spanning_.parent.resize(vertex_count, kNoVertex);
  tree_.parent.resize(vertex_count, kNoVertex);
  children_.resize(vertex_count, 0);
}

RootedTree DeriveFromShared(const RootedTree& shared, VertexId root,
                            const std::set<VertexId>& keep) {
  const size_t n = shared.parent.size();
  RootedTree out;
  out.root = root;
  out.parent.assign(n, kNoVertex);
  if (root < 0 || static_cast<size_t>(root) >= n || !shared.Contains(root)) return out;
  std::vector<std::vector<VertexId>> adjacent(n);
  for (VertexId v = 0; v < static_cast<VertexId>(n); ++v) {
    const VertexId p = shared.parent[v];
    if (p == kNoVertex) continue;
    adjacent[v].push_back(p);
    adjacent[p].push_back(v);
  }
  // Re-root by breadth-first search from `root`.
  std::vector<char> seen(n, 0);
  std::vector<VertexId> order;
  std::deque<VertexId> queue{root};
  seen[root] = 1;
  while (!queue.empty()) {
    VertexId u = queue.front();
    queue.pop_front();
    order.push_back(u);
    for (VertexId w : adjacent[u]) {
      if (seen[w]) continue;
      seen[w] = 1;
      out.parent[w] = u;
      queue.push_back(w);
    }
  }
  // Prune, leaves first (reverse BFS order), what no kept vertex needs.
  std::vector<int32_t> children(n, 0);
  for (VertexId v : order) {
    if (out.parent[v] != kNoVertex) ++children[out.parent[v]];
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const VertexId v = *it;
    if (v == root || children[v] > 0 || keep.contains(v)) continue;
    --children[out.parent[v]];
    out.parent[v] = kNoVertex;
  }
  return out;
}

int64_t TreeCost(const tree::OverlayGraph& graph, const RootedTree& tree) {
  int64_t total = 0;
  for (VertexId v = 0; v < static_cast<VertexId>(tree.parent.size()); ++v) {
    if (tree.parent[v] == kNoVertex) continue;
    std::optional<int64_t> c = graph.Cost(v, tree.parent[v]);
    if (!c) return kInvalidCost;
    total += *c;
  }
  return total;
}

int64_t MaxDelay(const tree::OverlayGraph& graph, const RootedTree& tree,
                 const std::set<VertexId>& vertices) {
  int64_t worst = 0;
  for (VertexId v : vertices) {
    int64_t delay = 0;
    for (VertexId x = v; x != tree.root && x != kNoVertex; x = tree.parent[x]) {
      if (tree.parent[x] == kNoVertex) break;
      std::optional<int64_t> c = graph.Cost(x, tree.parent[x]);
      if (!c) return kInvalidCost;
      delay += *c;
    }
    worst = std::max(worst, delay);
  }
  return worst;
}

}  // namespace canopy::tree
