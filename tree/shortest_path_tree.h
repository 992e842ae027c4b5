#ifndef CANOPY_TREE_SHORTEST_PATH_TREE_H_
#define CANOPY_TREE_SHORTEST_PATH_TREE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"

namespace canopy::tree {

// A rooted tree over the vertices of one OverlayGraph.
struct RootedTree {
  VertexId root = kNoVertex;
  // parent[v] for every vertex of the graph: kNoVertex for the root and for
  // vertices outside the tree.
  std::vector<VertexId> parent;
  // Sum of the costs of the tree's edges.
  int64_t cost = 0;

  // True if v is the root or has a parent.
  bool Contains(VertexId v) const {
    return v == root || (v >= 0 && v < static_cast<VertexId>(parent.size()) &&
                         parent[v] != kNoVertex);
  }
};

// Computes a tree from `root` that reaches every vertex in `members` along
// cheapest paths, honouring each vertex's max_fanout, and pruned so that every
// leaf is a member. Deterministic: ties go to the lower vertex id.
//
// Returns InvalidArgument for an out-of-range root or member,
// FailedPrecondition naming the members that cannot be reached (disconnected
// graph, or fan-out limits too tight).
absl::StatusOr<RootedTree> ShortestPathTree(const OverlayGraph& graph,
                                            VertexId root,
                                            absl::Span<const VertexId> members);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_SHORTEST_PATH_TREE_H_
