#ifndef CANOPY_TREE_INTERNAL_SPH_H_
#define CANOPY_TREE_INTERNAL_SPH_H_

#include <cstdint>
#include <vector>

#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

// Vertex set of Mehlhorn's tree (terminals plus expanded boundary paths).
std::vector<char> MehlhornVertexSet(const OverlayGraph& graph,
                                    const std::vector<char>& is_terminal,
                                    WorkBudget* budget);

// Shortest-path heuristic (Takahashi–Matsuyama) from `root`: repeatedly joins
// the terminal nearest to the growing tree by its shortest path. When
// `noise_seed` != 0 every edge cost is scaled by a deterministic pseudo-random
// factor in [1, 1 + noise_percent/100) derived from the seed and the edge's
// endpoints. If `avoid` is not null, edges with both ends marked in it cost
// a further avoid_percent more (steers restarts away from the best tree so
// far). Returns the vertex set of the tree (in_set flags).
std::vector<char> ShortestPathHeuristic(const OverlayGraph& graph,
                                        const std::vector<char>& is_terminal,
                                        VertexId root, uint64_t noise_seed,
                                        int32_t noise_percent, WorkBudget* budget,
                                        const std::vector<char>* avoid = nullptr,
                                        int32_t avoid_percent = 0);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_SPH_H_
