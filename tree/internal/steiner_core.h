#ifndef CANOPY_TREE_INTERNAL_STEINER_CORE_H_
#define CANOPY_TREE_INTERNAL_STEINER_CORE_H_

// Building blocks shared by the Steiner heuristics. Not part of the public
// API: only tree/ includes this file. Thread-compatible free functions.

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/steiner_solution.h"
#include "tree/work_budget.h"

namespace canopy::tree::internal {

inline constexpr int64_t kInf = std::numeric_limits<int64_t>::max() / 4;

// Validates terminal ids and that all terminals lie in one connected
// component. Returns InvalidArgument for bad ids and FailedPrecondition naming
// (by VertexInfo::name) the terminals unreachable from the first one.
absl::Status CheckTerminals(const OverlayGraph& graph,
                            absl::Span<const VertexId> terminals);

// Sorted, de-duplicated terminal list.
std::vector<VertexId> UniqueTerminals(absl::Span<const VertexId> terminals);

// Minimum spanning tree (Prim) of the subgraph induced by the vertices with
// in_set[v] != 0, started at `start`, followed by repeated removal of leaves
// that are not terminals. Updates in_set to the vertices kept. Returns false
// if some terminal is not reached. Charges the scanned edges to `budget`.
// REQUIRES: in_set[start] and is_terminal[start].
bool MstPrune(const OverlayGraph& graph, const std::vector<char>& is_terminal,
              VertexId start, std::vector<char>& in_set, std::vector<Edge>& out,
              WorkBudget* budget);

// Repeatedly removes leaves that are not terminals from the edge set.
void PruneLeaves(int32_t n, const std::vector<char>& is_terminal,
                 std::vector<Edge>& edges);

// Orients every edge u < v, sorts them and sums the cost.
SteinerSolution Normalize(std::vector<Edge> edges);

}  // namespace canopy::tree::internal

#endif  // CANOPY_TREE_INTERNAL_STEINER_CORE_H_
