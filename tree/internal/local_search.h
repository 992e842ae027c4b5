#ifndef CANOPY_TREE_INTERNAL_LOCAL_SEARCH_H_
#define CANOPY_TREE_INTERNAL_LOCAL_SEARCH_H_

#include <vector>

#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

// Improves the Steiner tree `edges` (spanning every terminal, leaves are
// terminals) in place with the Uchoa–Werneck neighbourhoods: key-path
// exchange, key-vertex elimination and vertex insertion, each followed by an
// MST of the chosen vertices and pruning. Stops at a local optimum or when
// `budget` is exhausted. Never makes the tree worse. Deterministic.
// REQUIRES: is_terminal[anchor], anchor is covered by `edges`.
void LocalSearch(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                 VertexId anchor, std::vector<Edge>& edges, WorkBudget* budget);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_LOCAL_SEARCH_H_
