// Tests of the SteinLib edge reductions and the exact small-terminal
// programme (tree/internal/), checked against brute force on tiny graphs.

#include "tree/internal/reduce.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/tree/test_graphs.h"
#include "tree/internal/exact_small.h"
#include "tree/steiner.h"
#include "tree/steiner_solution.h"

namespace canopy::tree {
namespace {

using testing::BruteForceSteinerCost;
using testing::RandomGraph;
using testing::RandomMembers;

std::vector<char> TerminalFlags(int32_t n, const std::vector<VertexId>& terms) {
  std::vector<char> flags(n, 0);
  for (VertexId t : terms) flags[t] = 1;
  return flags;
}

// Every edge of `sub` is an edge of `g` with the same cost, and the vertices
// are the same.
void ExpectSubgraph(const OverlayGraph& g, const OverlayGraph& sub) {
  ASSERT_EQ(sub.VertexCount(), g.VertexCount());
  for (VertexId v = 0; v < g.VertexCount(); ++v) {
    EXPECT_EQ(sub.Vertex(v).name, g.Vertex(v).name);
  }
  for (const Edge& e : sub.Edges()) {
    std::optional<int64_t> c = g.Cost(e.u, e.v);
    ASSERT_TRUE(c.has_value()) << e.u << "-" << e.v;
    EXPECT_EQ(*c, e.cost);
  }
}

TEST(ReduceTest, KeepsTheOptimumOnTinyGraphs) {
  int64_t removed = 0, sd = 0, triangle = 0, leaf = 0;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    const int32_t n = 8 + static_cast<int32_t>(seed % 7);
    // Small integer costs make ties, where the strict tests must be careful.
    const int64_t max_cost = 1 + seed % 6;
    OverlayGraph g = RandomGraph(seed, n, n + static_cast<int32_t>(seed % 17), max_cost);
    std::vector<VertexId> terms = RandomMembers(seed, n, 2 + static_cast<int32_t>(seed % 6));
    internal::ReductionStats stats;
    OverlayGraph reduced =
        internal::ReduceGraph(g, TerminalFlags(n, terms), nullptr, &stats);
    ExpectSubgraph(g, reduced);
    const int64_t cut = static_cast<int64_t>(g.Edges().size() - reduced.Edges().size());
    EXPECT_EQ(cut, stats.sd_edges + stats.triangle_edges + stats.leaf_edges);
    removed += cut;
    sd += stats.sd_edges;
    triangle += stats.triangle_edges;
    leaf += stats.leaf_edges;
    EXPECT_EQ(BruteForceSteinerCost(reduced, terms), BruteForceSteinerCost(g, terms))
        << "seed " << seed;
  }
  // Each test must actually fire, or this checks nothing.
  EXPECT_GT(sd, 0);
  EXPECT_GT(triangle, 0);
  EXPECT_GT(leaf, 0);
  EXPECT_GT(removed, 150);
}

TEST(ReduceTest, BottleneckThroughATerminalOnlyCountsTheLongerPiece) {
  // a - t - b with c(a,t) = c(t,b) = 3 and a direct a - b of cost 5. Through
  // terminal t the bottleneck is 3 < 5, so {a, b} can go; if t is not a
  // terminal the detour costs 6 and the edge must stay.
  OverlayGraph g;
  for (const char* name : {"a", "t", "b"}) g.AddVertex(VertexInfo{name, 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 1, 3).ok());
  ASSERT_TRUE(g.AddEdge(1, 2, 3).ok());
  ASSERT_TRUE(g.AddEdge(0, 2, 5).ok());
  OverlayGraph with_t = internal::ReduceGraph(g, {1, 1, 1}, nullptr);
  EXPECT_FALSE(with_t.Cost(0, 2).has_value());
  EXPECT_EQ(with_t.Edges().size(), 2u);
  OverlayGraph without_t = internal::ReduceGraph(g, {1, 0, 1}, nullptr);
  EXPECT_TRUE(without_t.Cost(0, 2).has_value());
  // Equal length is not enough: the edge may be in an optimum.
  ASSERT_TRUE(g.AddEdge(0, 2, 3).ok());
  OverlayGraph tie = internal::ReduceGraph(g, {1, 1, 1}, nullptr);
  EXPECT_TRUE(tie.Cost(0, 2).has_value());
}

TEST(ReduceTest, DropsDanglingNonTerminalChains) {
  // Terminals 0 and 1 joined directly; 2 - 3 - 4 hangs off 1.
  OverlayGraph g;
  for (int i = 0; i < 5; ++i) g.AddVertex(VertexInfo{absl::StrCat("v", i), 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 1, 4).ok());
  ASSERT_TRUE(g.AddEdge(1, 2, 1).ok());
  ASSERT_TRUE(g.AddEdge(2, 3, 1).ok());
  ASSERT_TRUE(g.AddEdge(3, 4, 1).ok());
  internal::ReductionStats stats;
  OverlayGraph r = internal::ReduceGraph(g, {1, 1, 0, 0, 0}, nullptr, &stats);
  EXPECT_EQ(r.Edges().size(), 1u);
  EXPECT_EQ(stats.leaf_edges, 3);
}

TEST(ReduceTest, SearchOnReducedGraphGivesValidTreesOfTheOriginal) {
  int64_t removed = 0;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    const int32_t n = 60 + static_cast<int32_t>(seed * 11 % 140);
    OverlayGraph g = RandomGraph(seed, n, n * 6, 1 + seed % 10);
    std::vector<VertexId> terms = RandomMembers(seed, n, 5 + static_cast<int32_t>(seed % 30));
    removed += static_cast<int64_t>(g.Edges().size()) -
               static_cast<int64_t>(
                   internal::ReduceGraph(g, TerminalFlags(n, terms), nullptr).Edges().size());
    SteinerOptions options;
    options.exact_max_terminals = 0;
    absl::StatusOr<SteinerSolution> reduced = SteinerTreeSearch(g, terms, options);
    ASSERT_TRUE(reduced.ok()) << reduced.status();
    EXPECT_TRUE(ValidateSteinerSolution(g, terms, *reduced).ok())
        << "seed " << seed << ": " << ValidateSteinerSolution(g, terms, *reduced);
    options.reduce = false;
    absl::StatusOr<SteinerSolution> plain = SteinerTreeSearch(g, terms, options);
    ASSERT_TRUE(plain.ok());
    EXPECT_TRUE(ValidateSteinerSolution(g, terms, *plain).ok()) << "seed " << seed;
  }
  EXPECT_GT(removed, 1000);
}

TEST(ExactSmallTest, MatchesBruteForceOnTinyGraphs) {
  for (uint32_t seed = 200; seed < 320; ++seed) {
    const int32_t n = 6 + static_cast<int32_t>(seed % 9);
    OverlayGraph g = RandomGraph(seed, n, n + static_cast<int32_t>(seed % 11),
                                 seed % 3 == 0 ? 3 : 30);
    std::vector<VertexId> terms = RandomMembers(seed, n, 2 + static_cast<int32_t>(seed % 6));
    std::vector<VertexId> sorted(terms);
    std::sort(sorted.begin(), sorted.end());
    std::vector<Edge> edges;
    ASSERT_TRUE(internal::ExactSteinerSmall(g, sorted, edges, nullptr));
    SteinerSolution s;
    s.edges = edges;
    for (const Edge& e : edges) s.cost += e.cost;
    EXPECT_TRUE(ValidateSteinerSolution(g, terms, s).ok())
        << "seed " << seed << ": " << ValidateSteinerSolution(g, terms, s);
    EXPECT_EQ(s.cost, BruteForceSteinerCost(g, terms)) << "seed " << seed;
  }
}

TEST(ExactSmallTest, GivesUpWhenTheBudgetRunsOut) {
  OverlayGraph g = RandomGraph(5, 300, 900, 50);
  std::vector<VertexId> terms = RandomMembers(5, 300, 8);
  std::sort(terms.begin(), terms.end());
  std::vector<Edge> edges;
  WorkBudget budget(10);
  EXPECT_FALSE(internal::ExactSteinerSmall(g, terms, edges, &budget));
  EXPECT_TRUE(edges.empty());
}

TEST(SteinerSearchTest, HeuristicPathMatchesBruteForceOnTinyGraphs) {
  // The default search solves few-terminal instances exactly; here the exact
  // programme is off so reductions, starts, local search and merging are
  // what is checked.
  int exact = 0;
  for (uint32_t seed = 100; seed < 160; ++seed) {
    const int32_t n = 8 + static_cast<int32_t>(seed % 7);
    OverlayGraph g = RandomGraph(seed, n, n + static_cast<int32_t>(seed % 9), 20);
    std::vector<VertexId> terms = RandomMembers(seed, n, 3 + static_cast<int32_t>(seed % 4));
    SteinerOptions options;
    options.exact_max_terminals = 0;
    absl::StatusOr<SteinerSolution> ours = SteinerTreeSearch(g, terms, options);
    ASSERT_TRUE(ours.ok());
    ASSERT_TRUE(ValidateSteinerSolution(g, terms, *ours).ok());
    int64_t optimum = BruteForceSteinerCost(g, terms);
    EXPECT_GE(ours->cost, optimum);
    if (ours->cost == optimum) ++exact;
  }
  EXPECT_GE(exact, 58);
}

}  // namespace
}  // namespace canopy::tree
