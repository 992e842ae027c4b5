#ifndef CANOPY_TREE_STEINER_H_
#define CANOPY_TREE_STEINER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"
#include "tree/steiner_solution.h"
#include "tree/work_budget.h"

namespace canopy::tree {

// Knobs of the Steiner search. The defaults meet the quality targets of
// docs/tree-quality.md.
struct SteinerOptions {
  // Deterministic work budget in abstract units (see kWorkUnitsPerMilli);
  // <= 0 means the default, kDefaultSteinerWork.
  int64_t work_budget = 0;
  // Maximum number of constructive starts (Mehlhorn, shortest-path heuristic
  // from distinct roots, then perturbed restarts). Each start is followed by
  // local search.
  int32_t max_starts = 24;
  // Seed of the deterministic perturbation of edge costs in restarts.
  uint64_t seed = 0x5eedULL;
  // Restarts scale each edge cost by a pseudo-random factor in
  // [1, 1 + noise_percent/100) and edges of the best tree so far by a further
  // avoid_percent, to explore other basins.
  int32_t noise_percent = 25;
  int32_t avoid_percent = 0;
  // Optional wall-clock cap on top of the work budget. With a clock the result
  // may depend on machine speed; leave null for reproducible results.
  const Clock* clock = nullptr;
  absl::Duration time_limit = absl::InfiniteDuration();
};

// Default work budget: about 8 s on the reference machine; most instances
// stop earlier on max_starts.
inline constexpr int64_t kDefaultSteinerWork = 8000 * kWorkUnitsPerMilli;

// Returns a tree spanning `terminals` of low total cost: Mehlhorn's tree and
// shortest-path-heuristic trees from several terminals (and perturbed costs),
// each improved by MST + pruning and Uchoa–Werneck local search (key-path
// exchange, key-vertex elimination, vertex insertion); the cheapest is kept.
// Deterministic for a given input and options without a clock. Ignores
// fan-out limits (see SteinerRootedTree). Duplicate terminals are allowed.
//
// Returns InvalidArgument for an out-of-range terminal and FailedPrecondition
// naming the terminals that are disconnected from the first one.
absl::StatusOr<SteinerSolution> SteinerTreeSearch(
    const OverlayGraph& graph, absl::Span<const VertexId> terminals,
    const SteinerOptions& options = {});

// The `cost` profile's shared tree: SteinerTreeSearch over {root} ∪ members,
// rooted at `root`, then repaired so that every vertex feeds at most its
// max_fanout children (see RepairFanout). Leaves are members.
//
// Returns InvalidArgument for bad ids, FailedPrecondition for a disconnected
// graph (naming the unreachable members) or when fan-out limits leave no
// feasible tree (naming the member that could not be attached).
absl::StatusOr<RootedTree> SteinerRootedTree(const OverlayGraph& graph, VertexId root,
                                             absl::Span<const VertexId> members,
                                             const SteinerOptions& options = {});

}  // namespace canopy::tree

#endif  // CANOPY_TREE_STEINER_H_
