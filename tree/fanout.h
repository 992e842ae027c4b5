#ifndef CANOPY_TREE_FANOUT_H_
#define CANOPY_TREE_FANOUT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"
#include "tree/rooted_tree_util.h"
#include "tree/steiner_solution.h"

namespace canopy::tree {

// Orients `solution` away from `root`. A solution with no edges becomes the
// one-vertex tree {root}. Returns InvalidArgument if root is out of range or
// not covered by a non-empty solution.
absl::StatusOr<RootedTree> RootSolution(const OverlayGraph& graph,
                                        const SteinerSolution& solution, VertexId root);

// Makes `tree` honour every vertex's max_fanout (0 = unlimited): for each
// vertex with too many children the most expensive child links are cut and
// each cut subtree is re-attached by the cheapest path, through vertices
// outside the tree, to a tree vertex with a free slot. Then non-member leaves
// are pruned and the cost recomputed. A tree that already complies is
// returned unchanged.
//
// Returns FailedPrecondition naming the vertex that could not be re-attached
// when the limits leave no feasible tree (e.g. the root's limit cannot be met).
// REQUIRES: tree is a valid rooted tree of graph containing every member.
absl::Status RepairFanout(const OverlayGraph& graph, absl::Span<const VertexId> members,
                          RootedTree& tree);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_FANOUT_H_
