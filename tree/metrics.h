#ifndef CANOPY_TREE_METRICS_H_
#define CANOPY_TREE_METRICS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {

// Quality figures of one rooted tree for one member set. Delays are sums of
// link costs (µs when costs are RTTs) from the root along the tree.
struct TreeMetrics {
  int64_t total_cost = 0;       // sum of tree link costs
  int64_t max_delay = 0;        // max root -> member tree delay
  double mean_delay = 0;        // mean root -> member tree delay
  double max_stretch = 1;       // max (tree delay / shortest-path delay)
  double mean_stretch = 1;      // mean of the same ratio (1 when direct is 0)
  int32_t max_fanout_used = 0;  // most children of any vertex
  int32_t depth = 0;            // most hops from the root to a member
};

// Computes TreeMetrics. The root is not counted as a member. Runs one
// Dijkstra from the root for the direct delays.
// Returns InvalidArgument if a member is not in the tree or a parent link is
// not a graph edge.
absl::StatusOr<TreeMetrics> ComputeTreeMetrics(const OverlayGraph& graph,
                                               const RootedTree& tree,
                                               absl::Span<const VertexId> members);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_METRICS_H_
