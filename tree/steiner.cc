#include "tree/steiner.h"

#include <utility>
#include <vector>

#include "tree/fanout.h"
#include "tree/internal/local_search.h"
#include "tree/internal/sph.h"
#include "tree/internal/steiner_core.h"

namespace canopy::tree {

absl::StatusOr<SteinerSolution> SteinerTreeSearch(const OverlayGraph& graph,
                                                  absl::Span<const VertexId> terminals,
                                                  const SteinerOptions& options) {
  if (absl::Status s = internal::CheckTerminals(graph, terminals); !s.ok()) return s;
  std::vector<VertexId> unique = internal::UniqueTerminals(terminals);
  if (unique.size() <= 1) return SteinerSolution{};
  const int32_t n = graph.VertexCount();
  std::vector<char> is_terminal(n, 0);
  for (VertexId t : unique) is_terminal[t] = 1;
  absl::Time deadline = absl::InfiniteFuture();
  if (options.clock != nullptr && options.time_limit != absl::InfiniteDuration()) {
    deadline = options.clock->Now() + options.time_limit;
  }
  WorkBudget budget(options.work_budget > 0 ? options.work_budget : kDefaultSteinerWork,
                    options.clock, deadline);
  const VertexId anchor = unique[0];
  std::vector<Edge> best;
  int64_t best_cost = internal::kInf;
  auto consider = [&](std::vector<char> in_set) {
    std::vector<Edge> edges;
    if (!internal::MstPrune(graph, is_terminal, anchor, in_set, edges, &budget)) return;
    internal::LocalSearch(graph, is_terminal, anchor, edges, &budget);
    int64_t cost = 0;
    for (const Edge& e : edges) cost += e.cost;
    if (cost < best_cost) {
      best_cost = cost;
      best = std::move(edges);
    }
  };
  consider(internal::MehlhornVertexSet(graph, is_terminal, &budget));
  const int32_t t = static_cast<int32_t>(unique.size());
  const int32_t plain_roots = std::min(t, std::max(1, options.max_starts / 2));
  for (int32_t i = 1; i < options.max_starts && !budget.Exhausted(); ++i) {
    VertexId root;
    uint64_t noise = 0;
    if (i <= plain_roots) {
      root = unique[static_cast<int64_t>(i - 1) * t / plain_roots];
    } else {
      noise = options.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i);
      if (noise == 0) noise = 1;
      root = unique[(noise >> 17) % static_cast<uint64_t>(t)];
    }
    std::vector<char> avoid;
    if (noise != 0 && options.avoid_percent > 0) {
      avoid.assign(n, 0);
      for (const Edge& e : best) avoid[e.u] = avoid[e.v] = 1;
    }
    consider(internal::ShortestPathHeuristic(graph, is_terminal, root, noise,
                                             options.noise_percent, &budget,
                                             avoid.empty() ? nullptr : &avoid,
                                             options.avoid_percent));
  }
  return internal::Normalize(std::move(best));
}

absl::StatusOr<RootedTree> SteinerRootedTree(const OverlayGraph& graph, VertexId root,
                                             absl::Span<const VertexId> members,
                                             const SteinerOptions& options) {
  if (root < 0 || root >= graph.VertexCount()) {
    return absl::InvalidArgumentError(absl::StrCat("root ", root, " is not a vertex"));
  }
  std::vector<VertexId> terminals(members.begin(), members.end());
  terminals.insert(terminals.begin(), root);
  absl::StatusOr<SteinerSolution> solution = SteinerTreeSearch(graph, terminals, options);
  if (!solution.ok()) return solution.status();
  absl::StatusOr<RootedTree> tree = RootSolution(graph, *solution, root);
  if (!tree.ok()) return tree.status();
  if (absl::Status s = RepairFanout(graph, terminals, *tree); !s.ok()) return s;
  return tree;
}

}  // namespace canopy::tree
