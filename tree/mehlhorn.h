#ifndef CANOPY_TREE_MEHLHORN_H_
#define CANOPY_TREE_MEHLHORN_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/steiner_solution.h"

namespace canopy::tree {

// Mehlhorn's 2-approximation of the Steiner tree over `terminals`: the MST of
// the Voronoi-boundary distance network, expanded to graph paths, followed by
// an MST of the chosen vertices and removal of non-terminal leaves.
// O(m log n). Deterministic. Ignores fan-out limits (see SteinerTreeSearch for
// a constrained tree). Duplicate terminals are allowed.
//
// Returns InvalidArgument for an out-of-range terminal and FailedPrecondition
// naming the terminals that are disconnected from the first one.
absl::StatusOr<SteinerSolution> MehlhornSteinerTree(
    const OverlayGraph& graph, absl::Span<const VertexId> terminals);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_MEHLHORN_H_
