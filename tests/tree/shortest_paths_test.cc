#include "tree/shortest_paths.h"

#include <functional>
#include <limits>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tree/test_graphs.h"
#include "tree/work_budget.h"

namespace canopy::tree {
namespace {

using testing::RandomGraph;

OverlayGraph Line(int32_t n, int64_t cost) {
  OverlayGraph g;
  for (int32_t i = 0; i < n; ++i) g.AddVertex(VertexInfo{"v", 0, 0, ""});
  for (int32_t i = 1; i < n; ++i) EXPECT_TRUE(g.AddEdge(i - 1, i, cost).ok());
  return g;
}

// Bellman-Ford from several sources at distance 0: the oracle.
std::vector<int64_t> Oracle(const OverlayGraph& g, const std::vector<VertexId>& sources) {
  std::vector<int64_t> dist(g.VertexCount(), kUnreachable);
  for (VertexId s : sources) dist[s] = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (const Edge& e : g.Edges()) {
      for (auto [a, b] : {std::pair{e.u, e.v}, std::pair{e.v, e.u}}) {
        if (dist[a] < kUnreachable && dist[a] + e.cost < dist[b]) {
          dist[b] = dist[a] + e.cost;
          changed = true;
        }
      }
    }
  }
  return dist;
}

TEST(ShortestPathsTest, DistancesAndPredecessorsMatchOracle) {
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    const int32_t n = 5 + static_cast<int32_t>(seed * 7 % 60);
    OverlayGraph g = RandomGraph(seed, n, n, 9);  // small costs: many ties
    std::vector<VertexId> sources = {static_cast<VertexId>(seed % n)};
    if (seed % 3 == 0) sources.push_back(static_cast<VertexId>((seed * 5 + 1) % n));
    PathLabels labels(n);
    for (VertexId s : sources) labels.Seed(s, 0);
    SearchOutcome out = ShortestPaths(g, sources, SearchLimits{}, labels);
    EXPECT_EQ(out.target, kNoVertex);
    std::vector<int64_t> want = Oracle(g, sources);
    for (VertexId v = 0; v < n; ++v) {
      ASSERT_EQ(labels.Dist(v), want[v]) << "seed " << seed << " vertex " << v;
      VertexId p = labels.Pred(v);
      if (labels.Dist(v) == 0) continue;
      ASSERT_NE(p, kNoVertex);
      EXPECT_EQ(labels.Dist(p) + *g.Cost(p, v), labels.Dist(v));
      // The smallest (distance, id) among all equally good predecessors.
      for (const Edge& e : g.Adjacent(v)) {
        if (want[e.v] + e.cost == want[v]) {
          EXPECT_LE(std::pair(want[p], p), std::pair(want[e.v], e.v)) << "seed " << seed;
        }
      }
    }
  }
}

// The lazy heap of (distance, vertex) pairs tree/ searched with before
// ShortestPaths: labels, first target and charged edge scans.
struct LazyHeapResult {
  std::vector<int64_t> dist;
  std::vector<VertexId> pred;
  VertexId target = kNoVertex;
  int64_t scanned = 0;
};
LazyHeapResult LazyHeap(const OverlayGraph& g, const std::vector<VertexId>& sources, int64_t bound,
                        const std::vector<char>& is_target) {
  LazyHeapResult r{std::vector<int64_t>(g.VertexCount(), kUnreachable),
                   std::vector<VertexId>(g.VertexCount(), kNoVertex)};
  using Item = std::pair<int64_t, VertexId>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (VertexId s : sources) {
    r.dist[s] = 0;
    heap.emplace(0, s);
  }
  while (!heap.empty()) {
    auto [d, v] = heap.top();
    heap.pop();
    if (d > r.dist[v]) continue;
    if (is_target[v]) {
      r.target = v;
      break;
    }
    for (const Edge& e : g.Adjacent(v)) {
      ++r.scanned;
      const int64_t nd = d + e.cost;
      if (nd < bound && nd < r.dist[e.v]) {
        r.dist[e.v] = nd;
        r.pred[e.v] = v;
        heap.emplace(nd, e.v);
      }
    }
  }
  return r;
}

TEST(ShortestPathsTest, SettlesLikeALexicographicHeapEvenWithZeroCosts) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    const int32_t n = 5 + static_cast<int32_t>(seed * 11 % 70);
    OverlayGraph g = RandomGraph(seed, n, 2 * n, 4);
    // Zero-cost links too: RandomGraph's costs start at 1.
    for (VertexId v = 1; v < n; v += 3) (void)g.AddEdge(v - 1, v, 0);
    std::vector<VertexId> sources = {static_cast<VertexId>(seed % n)};
    if (seed % 2 == 0) sources.push_back(static_cast<VertexId>((seed * 7 + 3) % n));
    if (sources.size() == 2 && sources[0] == sources[1]) sources.pop_back();
    std::vector<char> is_target(n, 0);
    if (seed % 3 != 0) {
      for (VertexId v = static_cast<VertexId>(seed % 5); v < n; v += 7) is_target[v] = 1;
      for (VertexId s : sources) is_target[s] = 0;
    }
    const int64_t bound = seed % 4 == 0 ? 6 : kUnreachable;
    LazyHeapResult want = LazyHeap(g, sources, bound, is_target);

    PathLabels labels(n);
    for (VertexId s : sources) labels.Seed(s, 0);
    WorkBudget budget(0);
    SearchLimits limits;
    limits.bound = bound;
    limits.budget = &budget;
    SearchOutcome out = ShortestPaths(g, sources, limits, labels, AllEdges{},
                                      [&](VertexId v) { return is_target[v] != 0; });
    EXPECT_EQ(out.target, want.target) << "seed " << seed;
    EXPECT_EQ(std::numeric_limits<int64_t>::max() - budget.Remaining(), want.scanned)
        << "seed " << seed;
    for (VertexId v = 0; v < n; ++v) {
      ASSERT_EQ(labels.Dist(v), want.dist[v]) << "seed " << seed << " vertex " << v;
      ASSERT_EQ(labels.Pred(v), want.pred[v]) << "seed " << seed << " vertex " << v;
    }
  }
}

// The lazy heap of (cost, vertex, parent) triples MstPrune used before
// SpanningTree.
std::pair<std::vector<Edge>, int64_t> LazyPrim(const OverlayGraph& g, VertexId start,
                                               const std::vector<char>& in_set) {
  std::vector<Edge> out;
  std::vector<char> done(g.VertexCount(), 0);
  using Item = std::tuple<int64_t, VertexId, VertexId>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  heap.emplace(0, start, kNoVertex);
  int64_t scanned = 0;
  while (!heap.empty()) {
    auto [w, v, from] = heap.top();
    heap.pop();
    if (done[v]) continue;
    done[v] = 1;
    if (from != kNoVertex) out.push_back(Edge{from, v, w, 0});
    for (const Edge& e : g.Adjacent(v)) {
      ++scanned;
      if (in_set[e.v] && !done[e.v]) heap.emplace(e.cost, e.v, v);
    }
  }
  return {out, scanned};
}

TEST(SpanningTreeTest, JoinsAndTiesLikeALexicographicPrim) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    const int32_t n = 5 + static_cast<int32_t>(seed * 13 % 80);
    OverlayGraph g = RandomGraph(seed, n, 2 * n, 3);  // few costs: many ties
    for (VertexId v = 2; v < n; v += 5) (void)g.AddEdge(v - 2, v, 0);
    std::vector<char> in_set(n, 0);
    for (VertexId v = 0; v < n; ++v) in_set[v] = (v * 7 + seed) % 4 != 0;
    const VertexId start = static_cast<VertexId>(seed % n);
    in_set[start] = 1;
    auto [want, want_scanned] = LazyPrim(g, start, in_set);

    std::vector<Edge> got;
    WorkBudget budget(0);
    SpanningTree(
        g, start, [&](VertexId v) { return in_set[v] != 0; }, &budget, got);
    EXPECT_EQ(got, want) << "seed " << seed;
    EXPECT_EQ(std::numeric_limits<int64_t>::max() - budget.Remaining(), want_scanned)
        << "seed " << seed;
  }
}

TEST(SpanningTreeTest, StaysInsideTheSetAndItsComponent) {
  // 0 -1- 1 -1- 2 -1- 3, and 4 linked to 0 only through 5 (outside the set).
  OverlayGraph g = Line(4, 1);
  g.AddVertex(VertexInfo{"v", 0, 0, ""});
  g.AddVertex(VertexInfo{"v", 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 5, 1).ok());
  ASSERT_TRUE(g.AddEdge(5, 4, 1).ok());
  ASSERT_TRUE(g.AddEdge(2, 0, 5).ok());
  std::vector<char> in_set = {1, 1, 1, 0, 1, 0};
  std::vector<Edge> out;
  SpanningTree(
      g, 0, [&](VertexId v) { return in_set[v] != 0; }, nullptr, out);
  EXPECT_EQ(out, (std::vector<Edge>{{0, 1, 1, 0}, {1, 2, 1, 0}}));
}

TEST(ShortestPathsTest, UnreachableVerticesStayUnreached) {
  OverlayGraph g = Line(3, 4);
  g.AddVertex(VertexInfo{"island", 0, 0, ""});
  PathLabels labels(g.VertexCount());
  labels.Seed(0, 0);
  std::vector<VertexId> sources = {0};
  SearchOutcome out = ShortestPaths(g, sources, SearchLimits{}, labels, AllEdges{},
                                    [](VertexId v) { return v == 3; });
  EXPECT_EQ(out.target, kNoVertex);
  EXPECT_EQ(labels.Dist(2), 8);
  EXPECT_EQ(labels.Dist(3), kUnreachable);
  EXPECT_EQ(labels.Pred(3), kNoVertex);
}

TEST(ShortestPathsTest, FilteredEdgesAndBoundCutPaths) {
  OverlayGraph g = Line(4, 5);
  PathLabels labels(4);
  labels.Seed(0, 0);
  std::vector<VertexId> sources = {0};
  SearchLimits limits;
  limits.bound = 10;  // paths of length >= 10 are not followed
  ShortestPaths(g, sources, limits, labels);
  EXPECT_EQ(labels.Dist(1), 5);
  EXPECT_EQ(labels.Dist(2), kUnreachable);
  labels.Reset();
  labels.Seed(0, 0);
  ShortestPaths(g, sources, SearchLimits{}, labels,
                [](const Edge& e) { return !(e.u == 1 && e.v == 2); });
  EXPECT_EQ(labels.Dist(1), 5);
  EXPECT_EQ(labels.Dist(2), kUnreachable);
}

TEST(ShortestPathsTest, StopsAtNearestTargetLowestIdFirst) {
  // 0 -1- {1, 2, 3}; targets 3 and 2 at the same distance, 4 farther.
  OverlayGraph g;
  for (int i = 0; i < 5; ++i) g.AddVertex(VertexInfo{"v", 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 3, 1).ok());
  ASSERT_TRUE(g.AddEdge(0, 2, 1).ok());
  ASSERT_TRUE(g.AddEdge(0, 1, 1).ok());
  ASSERT_TRUE(g.AddEdge(1, 4, 1).ok());
  PathLabels labels(5);
  labels.Seed(0, 0);
  std::vector<VertexId> sources = {0};
  WorkBudget budget(0);
  SearchLimits limits;
  limits.budget = &budget;
  SearchOutcome out = ShortestPaths(g, sources, limits, labels, AllEdges{},
                                    [](VertexId v) { return v >= 2; });
  EXPECT_EQ(out.target, 2);
  EXPECT_EQ(labels.Pred(2), 0);
  // Charged: vertex 0 (3 edges) and vertex 1 (2 edges), settled before 2.
  EXPECT_EQ(budget.Remaining(), std::numeric_limits<int64_t>::max() - 5);
}

TEST(ShortestPathsTest, StopsEarlyWhenBudgetRunsOut) {
  OverlayGraph g = Line(100, 1);
  std::vector<VertexId> sources = {0};
  WorkBudget budget(10);
  SearchLimits limits;
  limits.budget = &budget;
  limits.stop_when_spent = true;
  PathLabels labels(100);
  labels.Seed(0, 0);
  SearchOutcome out = ShortestPaths(g, sources, limits, labels);
  EXPECT_TRUE(out.budget_spent);
  EXPECT_TRUE(budget.Exhausted());
  EXPECT_EQ(labels.Dist(99), kUnreachable);
  EXPECT_EQ(labels.Dist(3), 3);
  EXPECT_GE(budget.Remaining(), -2) << "stops within one vertex of running out";

  WorkBudget plenty(1000);
  limits.budget = &plenty;
  labels.Reset();
  labels.Seed(0, 0);
  out = ShortestPaths(g, sources, limits, labels);
  EXPECT_FALSE(out.budget_spent);
  EXPECT_EQ(labels.Dist(99), 99);
  EXPECT_EQ(plenty.Remaining(), 1000 - 198);  // every edge scanned from both ends
}

TEST(ShortestPathsTest, SeedsActAsStartLabels) {
  OverlayGraph g = Line(3, 2);
  PathLabels labels(3);
  labels.Seed(0, 0);
  labels.Seed(2, 1);  // a head start for vertex 2
  std::vector<VertexId> sources = {0, 2};
  ShortestPaths(g, sources, SearchLimits{}, labels);
  EXPECT_EQ(labels.Dist(1), 2);
  EXPECT_EQ(labels.Pred(1), 0) << "(0, 0) beats (1, 2)";
  EXPECT_EQ(labels.Dist(2), 1);
  EXPECT_EQ(labels.Pred(2), kNoVertex);
}

}  // namespace
}  // namespace canopy::tree
