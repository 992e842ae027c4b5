#ifndef CANOPY_TREE_ROOTED_TREE_UTIL_H_
#define CANOPY_TREE_ROOTED_TREE_UTIL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {

// Number of children of every vertex of `tree` (size tree.parent.size()).
std::vector<int32_t> ChildCounts(const RootedTree& tree);

// Repeatedly removes leaves that are neither the root nor marked in
// `keep` (indexed by vertex). Does not touch tree.cost.
void PruneUnmarkedLeaves(const std::vector<char>& keep, RootedTree& tree);

// Sets tree.cost to the sum of the graph costs of its parent links. Returns
// Internal if a parent link is not a graph edge.
absl::Status RecomputeCost(const OverlayGraph& graph, RootedTree& tree);

// Checks that `tree` is a rooted tree of `graph`: parent links are graph
// edges, following parents from any tree vertex reaches the root without a
// cycle, every member is contained, cost equals the sum of link costs, and
// (if check_fanout) no vertex has more children than its max_fanout.
// Returns Internal describing the first violation. For tests and tools.
absl::Status ValidateRootedTree(const OverlayGraph& graph,
                                absl::Span<const VertexId> members,
                                const RootedTree& tree, bool check_fanout);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_ROOTED_TREE_UTIL_H_
