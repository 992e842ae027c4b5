#ifndef CANOPY_TREE_STEINER_SOLUTION_H_
#define CANOPY_TREE_STEINER_SOLUTION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"

namespace canopy::tree {

// An unrooted tree given by its edges (each with u < v, sorted), plus the sum
// of their costs. An empty edge list is the tree of a single terminal.
struct SteinerSolution {
  std::vector<Edge> edges;
  int64_t cost = 0;
};

// Checks that `solution` is a tree of `graph` that spans every terminal: only
// existing edges at their graph cost, no cycle, connected, every terminal
// covered (a lone terminal needs no edge), cost equal to the edge sum.
// Returns Internal with the first violation found. Used by tests and tools.
absl::Status ValidateSteinerSolution(const OverlayGraph& graph,
                                     absl::Span<const VertexId> terminals,
                                     const SteinerSolution& solution);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_STEINER_SOLUTION_H_
