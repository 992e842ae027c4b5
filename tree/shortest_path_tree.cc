#include "tree/shortest_path_tree.h"

#include <functional>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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
  std::vector<int64_t> dist(n, -1);
  std::vector<int32_t> children(n, 0);
  std::vector<bool> in_tree(n, false);

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
    if (tree.parent[v] == kNoVertex) continue;
    for (const Edge& e : graph.Adjacent(v)) {
      if (e.v == tree.parent[v]) {
        tree.cost += e.cost;
        break;
      }
    }
  }
  return tree;
}

}  // namespace canopy::tree
