#include "tree/steiner.h"

#include <utility>
#include <vector>

#include "tree/fanout.h"
#include "tree/internal/exact_small.h"
#include "tree/internal/local_search.h"
#include "tree/internal/reduce.h"
#include "tree/internal/sph.h"
#include "tree/internal/steiner_core.h"

namespace canopy::tree {
namespace {

using internal::kInf;

// The few best distinct trees found so far, cheapest first (ties: earlier
// first). Trees are stored normalised so duplicates are recognised.
class ElitePool {
 public:
  explicit ElitePool(size_t capacity) : capacity_(capacity) {}

  // Offers a tree; returns true if it is a new best.
  bool Offer(std::vector<Edge> edges) {
    SteinerSolution s = internal::Normalize(std::move(edges));
    for (const SteinerSolution& e : elite_) {
      if (e.cost == s.cost && SameEdges(e, s)) return false;
    }
    size_t pos = 0;
    while (pos < elite_.size() && elite_[pos].cost <= s.cost) ++pos;
    if (pos >= capacity_) return false;
    elite_.insert(elite_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(s));
    if (elite_.size() > capacity_) elite_.pop_back();
    return pos == 0;
  }

  size_t size() const { return elite_.size(); }
  const SteinerSolution& operator[](size_t i) const { return elite_[i]; }
  int64_t BestCost() const { return elite_.empty() ? kInf : elite_[0].cost; }

 private:
  static bool SameEdges(const SteinerSolution& a, const SteinerSolution& b) {
    if (a.edges.size() != b.edges.size()) return false;
    for (size_t i = 0; i < a.edges.size(); ++i) {
      if (a.edges[i].u != b.edges[i].u || a.edges[i].v != b.edges[i].v) return false;
    }
    return true;
  }

  size_t capacity_;
  std::vector<SteinerSolution> elite_;
};

struct StartPlan {
  int32_t starts = 1;
  int32_t noise_percent = 0;
  int32_t avoid_percent = 0;
  uint64_t seed = 0;
  bool mehlhorn = true;
};

// Mehlhorn's tree, shortest-path-heuristic trees from evenly spaced terminals
// and then from pseudo-random terminals with perturbed costs, each improved by
// MST + pruning and local search, offered to `pool`.
void RunStarts(const OverlayGraph& graph, const std::vector<char>& is_terminal,
               const std::vector<VertexId>& unique, const StartPlan& plan,
               WorkBudget* budget, ElitePool& pool) {
  const int32_t n = graph.VertexCount();
  const VertexId anchor = unique[0];
  auto consider = [&](std::vector<char> in_set) {
    std::vector<Edge> edges;
    if (!internal::MstPrune(graph, is_terminal, anchor, in_set, edges, budget)) return;
    internal::LocalSearch(graph, is_terminal, anchor, edges, budget);
    pool.Offer(std::move(edges));
  };
  if (plan.mehlhorn) consider(internal::MehlhornVertexSet(graph, is_terminal, budget));
  const int32_t t = static_cast<int32_t>(unique.size());
  const int32_t plain_roots = std::min(t, std::max(1, plan.starts / 2));
  for (int32_t i = 1; i < plan.starts && !budget->Exhausted(); ++i) {
    VertexId root;
    uint64_t noise = 0;
    if (i <= plain_roots) {
      root = unique[static_cast<int64_t>(i - 1) * t / plain_roots];
    } else {
      noise = plan.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i);
      if (noise == 0) noise = 1;
      root = unique[(noise >> 17) % static_cast<uint64_t>(t)];
    }
    std::vector<char> avoid;
    if (noise != 0 && plan.avoid_percent > 0 && pool.size() > 0) {
      avoid.assign(n, 0);
      for (const Edge& e : pool[0].edges) avoid[e.u] = avoid[e.v] = 1;
    }
    consider(internal::ShortestPathHeuristic(graph, is_terminal, root, noise,
                                             plan.noise_percent, budget,
                                             avoid.empty() ? nullptr : &avoid,
                                             plan.avoid_percent));
  }
}

// Solution merging: the subgraph induced by the vertices of a few elite
// trees is searched again (it is small, so many starts are cheap); the best
// tree found there is mapped back, improved by local search on the whole
// graph and offered to the pool. Returns true if it is a new best.
bool Recombine(const OverlayGraph& graph, const std::vector<char>& is_terminal,
               const std::vector<VertexId>& unique, const std::vector<size_t>& parents,
               int32_t starts, uint64_t seed, WorkBudget* budget, ElitePool& pool) {
  const int32_t n = graph.VertexCount();
  std::vector<VertexId> local(n, kNoVertex);
  std::vector<VertexId> global;
  auto add = [&](VertexId v) {
    if (local[v] == kNoVertex) {
      local[v] = static_cast<VertexId>(global.size());
      global.push_back(v);
    }
  };
  for (VertexId t : unique) add(t);
  for (size_t p : parents) {
    for (const Edge& e : pool[p].edges) {
      add(e.u);
      add(e.v);
    }
  }
  OverlayGraph sub;
  for (size_t i = 0; i < global.size(); ++i) sub.AddVertex(VertexInfo{});
  int64_t scanned = 0;
  for (VertexId v : global) {
    for (const Edge& e : graph.Adjacent(v)) {
      ++scanned;
      if (local[e.v] != kNoVertex && v < e.v) {
        (void)sub.AddEdge(local[v], local[e.v], e.cost, e.capacity_bps);
      }
    }
  }
  budget->Charge(scanned);
  std::vector<char> sub_terminal(global.size(), 0);
  std::vector<VertexId> sub_unique;
  for (VertexId t : unique) {
    sub_terminal[local[t]] = 1;
    sub_unique.push_back(local[t]);
  }
  ElitePool sub_pool(1);
  StartPlan plan;
  plan.starts = starts;
  plan.noise_percent = 25;
  plan.seed = seed;
  plan.mehlhorn = false;
  RunStarts(sub, sub_terminal, sub_unique, plan, budget, sub_pool);
  if (sub_pool.size() == 0) return false;
  std::vector<Edge> edges;
  for (const Edge& e : sub_pool[0].edges) {
    edges.push_back(Edge{global[e.u], global[e.v], e.cost, e.capacity_bps});
  }
  internal::LocalSearch(graph, is_terminal, unique[0], edges, budget);
  return pool.Offer(std::move(edges));
}

}  // namespace

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
  const int64_t total_work =
      options.work_budget > 0 ? options.work_budget : kDefaultSteinerWork;
  WorkBudget budget(total_work, options.clock, deadline);
  // Edge reductions keep every optimal tree and make all later passes cheaper;
  // the reduced graph has the same vertex ids, so its trees are ours.
  OverlayGraph reduced;
  if (options.reduce) reduced = internal::ReduceGraph(graph, is_terminal, &budget);
  const OverlayGraph& g = options.reduce ? reduced : graph;
  if (static_cast<int64_t>(unique.size()) <= options.exact_max_terminals &&
      unique.size() <= 20 &&
      (int64_t{1} << (unique.size() - 1)) * n <= (int64_t{1} << 22) &&
      internal::ExactSteinerWork(g, static_cast<int32_t>(unique.size())) <=
          total_work / 16) {
    std::vector<Edge> exact;
    if (internal::ExactSteinerSmall(g, unique, exact, &budget)) {
      return internal::Normalize(std::move(exact));
    }
  }
  ElitePool pool(static_cast<size_t>(std::max(1, options.elite_size)));
  StartPlan plan;
  plan.starts = std::max(1, options.max_starts);
  plan.noise_percent = options.noise_percent;
  plan.avoid_percent = options.avoid_percent;
  plan.seed = options.seed;
  // The starts may use 60 % of the budget; the merging phase then gets at
  // most recombination_work_percent of what they spent, and stops by 75 %
  // of the budget in all, so large instances end well inside their budget.
  const int64_t start_units = std::max<int64_t>(1, budget.Remaining() / 10 * 6);
  WorkBudget start_budget(start_units, options.clock, deadline);
  RunStarts(g, is_terminal, unique, plan, &start_budget, pool);
  const int64_t starts_work = start_units - start_budget.Remaining();
  budget.Charge(starts_work);
  const int64_t spent = total_work - budget.Remaining();
  const int64_t merge_units =
      std::min({budget.Remaining(), total_work / 4 * 3 - spent,
                starts_work / 100 * std::max(0, options.recombination_work_percent)});
  WorkBudget merge_budget(std::max<int64_t>(merge_units, 1), options.clock, deadline);
  int32_t rounds = 0;
  size_t partner = 1;
  while (merge_units > 0 && rounds < options.recombinations && partner < pool.size() &&
         !merge_budget.Exhausted()) {
    std::vector<size_t> parents = {0, partner};
    if (partner + 1 < pool.size()) parents.push_back(partner + 1);
    ++rounds;
    uint64_t seed = options.seed ^ (0xa5a5a5a5ULL * static_cast<uint64_t>(rounds));
    if (Recombine(g, is_terminal, unique, parents, options.recombination_starts, seed,
                  &merge_budget, pool)) {
      partner = 1;
    } else {
      ++partner;
    }
  }
  budget.Charge(std::max<int64_t>(merge_units, 1) - merge_budget.Remaining());
  if (pool.size() == 0) return SteinerSolution{};
  return pool[0];
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
