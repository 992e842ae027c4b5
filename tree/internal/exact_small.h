#ifndef CANOPY_TREE_INTERNAL_EXACT_SMALL_H_
#define CANOPY_TREE_INTERNAL_EXACT_SMALL_H_

#include <cstdint>
#include <vector>

#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

// Estimated work units of ExactSteinerSmall for `terminals` distinct
// terminals on `graph` (3^(k-1)·n subset merges, 2^(k-1) Dijkstra passes).
// Saturates at a large value instead of overflowing.
int64_t ExactSteinerWork(const OverlayGraph& graph, int32_t terminals);

// Optimal Steiner tree by the Dreyfus–Wagner / Erickson–Monma–Veinott dynamic
// programme over terminal subsets. `terminals` are distinct and all in one
// component. Fills `out` with the edges of an optimal tree (leaves are
// terminals) and returns true; returns false (out untouched) if the budget
// runs out first. Deterministic. Charges its work to `budget`.
// REQUIRES: 2 <= terminals.size() <= 20.
bool ExactSteinerSmall(const OverlayGraph& graph, const std::vector<VertexId>& terminals,
                       std::vector<Edge>& out, WorkBudget* budget);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_EXACT_SMALL_H_
