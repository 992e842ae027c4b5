#include "tree/rooted_tree_util.h"

#include "absl/strings/str_cat.h"

namespace canopy::tree {

std::vector<int32_t> ChildCounts(const RootedTree& tree) {
  std::vector<int32_t> children(tree.parent.size(), 0);
  for (VertexId p : tree.parent) {
    if (p != kNoVertex) ++children[p];
  }
  return children;
}

void PruneUnmarkedLeaves(const std::vector<char>& keep, RootedTree& tree) {
  std::vector<int32_t> children = ChildCounts(tree);
  std::vector<VertexId> leaves;
  const VertexId n = static_cast<VertexId>(tree.parent.size());
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex && children[v] == 0 && !keep[v]) leaves.push_back(v);
  }
  while (!leaves.empty()) {
    VertexId v = leaves.back();
    leaves.pop_back();
    VertexId p = tree.parent[v];
    tree.parent[v] = kNoVertex;
    if (p != tree.root && --children[p] == 0 && !keep[p]) leaves.push_back(p);
  }
}

absl::Status RecomputeCost(const OverlayGraph& graph, RootedTree& tree) {
  int64_t cost = 0;
  for (VertexId v = 0; v < static_cast<VertexId>(tree.parent.size()); ++v) {
    if (tree.parent[v] == kNoVertex) continue;
    std::optional<int64_t> c = graph.Cost(v, tree.parent[v]);
    if (!c.has_value()) {
      return absl::InternalError(
          absl::StrCat("link {", tree.parent[v], ", ", v, "} is not a graph edge"));
    }
    cost += *c;
  }
  tree.cost = cost;
  return absl::OkStatus();
}

absl::Status ValidateRootedTree(const OverlayGraph& graph,
                                absl::Span<const VertexId> members,
                                const RootedTree& tree, bool check_fanout) {
  const VertexId n = graph.VertexCount();
  if (static_cast<VertexId>(tree.parent.size()) != n) {
    return absl::InternalError("parent vector has the wrong size");
  }
  if (tree.root < 0 || tree.root >= n || tree.parent[tree.root] != kNoVertex) {
    return absl::InternalError("bad root");
  }
  RootedTree copy = tree;
  if (absl::Status s = RecomputeCost(graph, copy); !s.ok()) return s;
  if (copy.cost != tree.cost) {
    return absl::InternalError(
        absl::StrCat("reported cost ", tree.cost, " != link sum ", copy.cost));
  }
  for (VertexId v = 0; v < n; ++v) {
    VertexId x = v;
    for (VertexId steps = 0; x != tree.root && tree.parent[x] != kNoVertex; ++steps) {
      if (steps > n) return absl::InternalError(absl::StrCat("cycle through ", v));
      x = tree.parent[x];
    }
    if (tree.parent[v] != kNoVertex && x != tree.root) {
      return absl::InternalError(absl::StrCat("vertex ", v, " does not reach the root"));
    }
  }
  for (VertexId m : members) {
    if (!tree.Contains(m)) return absl::InternalError(absl::StrCat("member ", m, " missing"));
  }
  if (check_fanout) {
    std::vector<int32_t> children = ChildCounts(tree);
    for (VertexId v = 0; v < n; ++v) {
      int32_t limit = graph.Vertex(v).max_fanout;
      if (limit > 0 && children[v] > limit) {
        return absl::InternalError(absl::StrCat("vertex ", v, " has ", children[v],
                                                " children, limit ", limit));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy::tree
