#include "tree/internal/exact_small.h"

#include <utility>

#include "tree/internal/steiner_core.h"
#include "tree/shortest_paths.h"

namespace canopy::tree::internal {
namespace {

// Work units charged per subset merge of one vertex (a merge is an add and a
// compare, far cheaper than an edge relaxation with a heap push).
constexpr int64_t kMergesPerUnit = 16;

}  // namespace

int64_t ExactSteinerWork(const OverlayGraph& graph, int32_t terminals) {
  if (terminals <= 1) return 0;
  if (terminals > 20) return kInf;
  const int64_t n = graph.VertexCount();
  int64_t m2 = 0;
  for (VertexId v = 0; v < graph.VertexCount(); ++v) {
    m2 += static_cast<int64_t>(graph.Adjacent(v).size());
  }
  int64_t pow3 = 1;
  for (int32_t i = 1; i < terminals; ++i) pow3 *= 3;
  const int64_t pow2 = int64_t{1} << (terminals - 1);
  return pow3 / 2 * n / kMergesPerUnit + pow2 * (m2 + n);
}

bool ExactSteinerSmall(const OverlayGraph& graph, const std::vector<VertexId>& terminals,
                       std::vector<Edge>& out, WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  const int32_t k = static_cast<int32_t>(terminals.size());
  const int32_t q = k - 1;  // subsets over terminals[0..q-1]; terminals[q] is the root
  const uint32_t full = (1u << q) - 1;
  const size_t layers = size_t{1} << q;
  std::vector<int64_t> dp(layers * static_cast<size_t>(n), kInf);
  // trace >= 0: predecessor vertex in the same layer; -1: a terminal's own
  // singleton; <= -2: merge of subset -(trace + 2) and its complement in S.
  std::vector<int32_t> trace(layers * static_cast<size_t>(n), -1);
  auto at = [n](uint32_t s, VertexId v) { return static_cast<size_t>(s) * n + v; };
  PathLabels labels(n);
  std::vector<VertexId> sources;
  SearchLimits limits;
  limits.budget = budget;
  for (uint32_t s = 1; s <= full; ++s) {
    if (budget != nullptr && budget->Exhausted()) return false;
    int64_t work = 0;
    int64_t* layer = &dp[at(s, 0)];
    int32_t* tr = &trace[at(s, 0)];
    if ((s & (s - 1)) == 0) {
      int32_t i = 0;
      while ((1u << i) != s) ++i;
      layer[terminals[i]] = 0;
      tr[terminals[i]] = -1;
    } else {
      const uint32_t low = s & (~s + 1);
      for (uint32_t a = (s - 1) & s; a != 0; a = (a - 1) & s) {
        if ((a & low) == 0) continue;
        const int64_t* x = &dp[at(a, 0)];
        const int64_t* y = &dp[at(s ^ a, 0)];
        for (VertexId v = 0; v < n; ++v) {
          int64_t c = x[v] + y[v];
          if (c < layer[v]) {
            layer[v] = c;
            tr[v] = -static_cast<int32_t>(a) - 2;
          }
        }
        work += n;
      }
      work /= kMergesPerUnit;
    }
    // Spread the layer along shortest paths: every labelled vertex is a
    // source with its label as head start. ShortestPaths charges the edges.
    sources.clear();
    for (VertexId v = 0; v < n; ++v) {
      if (layer[v] < kInf) {
        sources.push_back(v);
        labels.Seed(v, layer[v]);
      }
    }
    ShortestPaths(graph, sources, limits, labels);
    for (VertexId v = 0; v < n; ++v) {
      layer[v] = labels.Dist(v);
      if (labels.Pred(v) != kNoVertex) tr[v] = labels.Pred(v);
    }
    labels.Reset();
    if (budget != nullptr) budget->Charge(work + n);
  }
  const VertexId root = terminals[q];
  if (dp[at(full, root)] >= kInf) return false;
  // Collect the vertices of the optimal connection; an MST of them (pruned)
  // costs no more than the programme's value, so it is optimal too.
  std::vector<char> in_set(n, 0), is_terminal(n, 0);
  for (VertexId t : terminals) is_terminal[t] = 1;
  std::vector<std::pair<uint32_t, VertexId>> stack = {{full, root}};
  while (!stack.empty()) {
    auto [s, v] = stack.back();
    stack.pop_back();
    in_set[v] = 1;
    int32_t tr = trace[at(s, v)];
    if (tr >= 0) {
      stack.emplace_back(s, tr);
    } else if (tr <= -2) {
      uint32_t a = static_cast<uint32_t>(-(tr + 2));
      stack.emplace_back(a, v);
      stack.emplace_back(s ^ a, v);
    }
  }
  std::vector<Edge> edges;
  if (!MstPrune(graph, is_terminal, root, in_set, edges, budget)) return false;
  out = std::move(edges);
  return true;
}

}  // namespace canopy::tree::internal
