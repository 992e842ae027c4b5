#include "tree/shortest_paths.h"

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
