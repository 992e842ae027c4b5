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
  // Instances with at most this many distinct terminals are solved exactly by
  // the Dreyfus–Wagner dynamic programme over terminal subsets, when its
  // estimated work fits in a sixteenth of the work budget (and its table in
  // 4M entries); otherwise, or with 0, the heuristic search runs.
  int32_t exact_max_terminals = 12;
  // Solution merging after the starts: up to `recombinations` rounds, each
  // searching the subgraph induced by the best tree and one or two other
  // trees of the `elite_size` best with `recombination_starts` starts, then
  // improving the result on the whole graph. 0 rounds disables.
  int32_t elite_size = 6;
  int32_t recombinations = 8;
  int32_t recombination_starts = 16;
  // Work the merging phase may spend, in percent of the work of the starts.
  int32_t recombination_work_percent = 100;
  // Drop edges that lie in no minimum tree (SteinLib bottleneck Steiner
  // distance and non-terminal leaf tests) before searching.
  bool reduce = true;
};

// Default work budget: about 8 s on the reference machine; most instances
// stop earlier on max_starts.
inline constexpr int64_t kDefaultSteinerWork = 8000 * kWorkUnitsPerMilli;

// Returns a tree spanning `terminals` of low total cost. First edges that lie
// in no minimum tree are dropped (SteinLib reductions). Few terminals are
// solved exactly (see exact_max_terminals). Otherwise: Mehlhorn's tree and
// shortest-path-heuristic trees from several terminals (and perturbed costs),
// each improved by MST + pruning and Uchoa–Werneck local search (key-path
// exchange, key-vertex elimination, vertex insertion), then solution merging
// among the best few; the cheapest is kept.
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
