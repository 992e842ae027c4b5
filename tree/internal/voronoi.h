#ifndef CANOPY_TREE_INTERNAL_VORONOI_H_
#define CANOPY_TREE_INTERNAL_VORONOI_H_

#include <cstdint>
#include <vector>

#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

// Shortest-path Voronoi regions of a source set: for every vertex its nearest
// source (base), the distance to it, and the predecessor on that path
// (kNoVertex for sources and unreachable vertices; base is kNoVertex for
// unreachable vertices). Ties follow ShortestPaths' (distance, id) rule, so
// the result is deterministic.
struct Voronoi {
  std::vector<int64_t> dist;
  std::vector<VertexId> base;
  std::vector<VertexId> pred;
};

// Multi-source Dijkstra (ShortestPaths) from every v with is_source[v] != 0.
// Charges each scanned edge to `budget` if not null.
void ComputeVoronoi(const OverlayGraph& graph, const std::vector<char>& is_source,
                    Voronoi& out, WorkBudget* budget);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_VORONOI_H_
