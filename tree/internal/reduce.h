#ifndef CANOPY_TREE_INTERNAL_REDUCE_H_
#define CANOPY_TREE_INTERNAL_REDUCE_H_

#include <cstdint>
#include <vector>

#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

// What ReduceGraph removed.
struct ReductionStats {
  int64_t sd_edges = 0;        // bottleneck Steiner distance test (Voronoi bound)
  int64_t triangle_edges = 0;  // two-edge paths (special distance through a neighbour)
  int64_t leaf_edges = 0;      // edges of non-terminal vertices of degree one
};

// SteinLib edge reductions that keep every minimum Steiner tree: returns a
// graph with the same vertices (ids, infos) and a subset of the edges (same
// costs and capacities) that still contains every minimum Steiner tree of
// `graph` for the terminals `is_terminal`. An edge {u, v} is dropped when
//  - a u–v walk exists whose terminal-free pieces are all strictly shorter
//    than c(u, v) (bottleneck Steiner distance test). Two bounds are used:
//    u → its nearest terminal, along the minimum spanning tree of the
//    terminal distance graph to v's nearest terminal, → v; and every
//    two-edge path u–w–v (pieces c(u,w), c(w,v) if w is a terminal, else
//    their sum);
//  - a non-terminal endpoint has degree one (repeatedly).
// Every dropped edge lies in no minimum tree, so dropping them all at once is
// safe and any tree of the result is a tree of `graph` with the same cost.
// Deterministic; charges its work to `budget` (may be null).
OverlayGraph ReduceGraph(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                         WorkBudget* budget, ReductionStats* stats = nullptr);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_REDUCE_H_
