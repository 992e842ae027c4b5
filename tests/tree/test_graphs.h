#ifndef CANOPY_TESTS_TREE_TEST_GRAPHS_H_
#define CANOPY_TESTS_TREE_TEST_GRAPHS_H_

// Deterministic random graphs and a brute-force Steiner solver for tests.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tree/overlay_graph.h"

namespace canopy::tree::testing {

// A connected random graph: a random spanning tree plus `extra` random edges,
// costs in [1, max_cost]. Fan-out limits are drawn from [min_fanout, 6] when
// min_fanout > 0 (else unlimited).
inline OverlayGraph RandomGraph(uint32_t seed, int32_t n, int32_t extra, int64_t max_cost,
                                int32_t min_fanout = 0) {
  std::mt19937 rng(seed);
  OverlayGraph g;
  for (int32_t i = 0; i < n; ++i) {
    int32_t fanout = 0;
    if (min_fanout > 0) fanout = std::uniform_int_distribution<int32_t>(min_fanout, 6)(rng);
    g.AddVertex(VertexInfo{absl::StrCat("n", i), fanout, 0, ""});
  }
  std::uniform_int_distribution<int64_t> cost(1, max_cost);
  for (int32_t v = 1; v < n; ++v) {
    VertexId u = std::uniform_int_distribution<int32_t>(0, v - 1)(rng);
    (void)g.AddEdge(u, v, cost(rng));
  }
  for (int32_t i = 0; i < extra; ++i) {
    VertexId u = std::uniform_int_distribution<int32_t>(0, n - 1)(rng);
    VertexId v = std::uniform_int_distribution<int32_t>(0, n - 1)(rng);
    if (u != v) (void)g.AddEdge(u, v, cost(rng));
  }
  return g;
}

// `k` distinct random vertices.
inline std::vector<VertexId> RandomMembers(uint32_t seed, int32_t n, int32_t k) {
  std::mt19937 rng(seed * 7919u + 1);
  std::vector<VertexId> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(n, k));
  return all;
}

// Exact Steiner tree cost by enumerating every set of Steiner vertices and
// taking the MST of the induced subgraph. REQUIRES: n <= ~16.
inline int64_t BruteForceSteinerCost(const OverlayGraph& g,
                                     const std::vector<VertexId>& terminals) {
  const int32_t n = g.VertexCount();
  std::vector<char> is_terminal(n, 0);
  for (VertexId t : terminals) is_terminal[t] = 1;
  std::vector<VertexId> others;
  for (VertexId v = 0; v < n; ++v) {
    if (!is_terminal[v]) others.push_back(v);
  }
  std::vector<Edge> edges = g.Edges();
  std::sort(edges.begin(), edges.end(),
            [](const Edge& a, const Edge& b) { return a.cost < b.cost; });
  int64_t best = std::numeric_limits<int64_t>::max();
  for (uint32_t mask = 0; mask < (1u << others.size()); ++mask) {
    std::vector<char> in(is_terminal);
    int32_t count = static_cast<int32_t>(terminals.size());
    for (size_t i = 0; i < others.size(); ++i) {
      if (mask & (1u << i)) {
        in[others[i]] = 1;
        ++count;
      }
    }
    std::vector<VertexId> uf(n);
    std::iota(uf.begin(), uf.end(), 0);
    auto find = [&](VertexId x) {
      while (uf[x] != x) x = uf[x] = uf[uf[x]];
      return x;
    };
    int64_t cost = 0;
    int32_t joined = 1;
    for (const Edge& e : edges) {
      if (!in[e.u] || !in[e.v]) continue;
      VertexId a = find(e.u), b = find(e.v);
      if (a == b) continue;
      uf[a] = b;
      cost += e.cost;
      ++joined;
    }
    if (joined == count) best = std::min(best, cost);
  }
  return best;
}

}  // namespace canopy::tree::testing

#endif  // CANOPY_TESTS_TREE_TEST_GRAPHS_H_
