#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tree/test_graphs.h"
#include "tree/bulk.h"
#include "tree/metrics.h"
#include "tree/rooted_tree_util.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {
namespace {

using testing::RandomGraph;
using testing::RandomMembers;

OverlayGraph Line(int n) {  // 0 - 1 - 2 - ... with unit costs
  OverlayGraph g;
  for (int i = 0; i < n; ++i) g.AddVertex(VertexInfo{absl::StrCat(i), 0, 0, ""});
  for (int i = 1; i < n; ++i) (void)g.AddEdge(i - 1, i, 1);
  return g;
}

TEST(PipelinedChainTest, LineGivesTheObviousOrder) {
  OverlayGraph g = Line(6);
  std::vector<VertexId> members = {5, 2, 4, 1, 3};
  absl::StatusOr<PipelinedChain> c = BuildPipelinedChain(g, 0, members);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->order, (std::vector<VertexId>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(c->cost, 5);
}

TEST(PipelinedChainTest, TwoOptNeverWorseThanNearestNeighbourAndVisitsAll) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    OverlayGraph g = RandomGraph(seed, 80, 300, 100);
    std::vector<VertexId> members = RandomMembers(seed, 80, 25);
    VertexId src = members.back();
    members.pop_back();
    absl::StatusOr<PipelinedChain> c = BuildPipelinedChain(g, src, members);
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c->order.size(), members.size() + 1);
    EXPECT_EQ(c->order[0], src);
    std::vector<VertexId> sorted(c->order.begin() + 1, c->order.end());
    std::sort(sorted.begin(), sorted.end());
    std::vector<VertexId> want(members);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(sorted, want);
  }
}

TEST(PipelinedChainTest, SlowMemberGoesLastAndTwoSlowAreRejected) {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"s", 0, 100, ""});
  g.AddVertex(VertexInfo{"slow", 0, 10, ""});
  g.AddVertex(VertexInfo{"fast", 0, 100, ""});
  (void)g.AddEdge(0, 1, 1);
  (void)g.AddEdge(1, 2, 1);
  (void)g.AddEdge(0, 2, 5);
  std::vector<VertexId> members = {1, 2};
  absl::StatusOr<PipelinedChain> c = BuildPipelinedChain(g, 0, members, 50);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->order.back(), 1);
  EXPECT_EQ(c->bottleneck_bps, 100);
  OverlayGraph g2 = g;
  g2.AddVertex(VertexInfo{"slow2", 0, 10, ""});
  (void)g2.AddEdge(2, 3, 1);
  std::vector<VertexId> three = {1, 2, 3};
  EXPECT_EQ(BuildPipelinedChain(g2, 0, three, 50).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StripedForestTest, EachVertexInteriorInAtMostOneStripeAndCapacityHeld) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    OverlayGraph g;
    OverlayGraph base = RandomGraph(seed, 50, 200, 100);
    for (VertexId v = 0; v < 50; ++v) {
      g.AddVertex(VertexInfo{absl::StrCat(v), 0, 8'000'000 + 1'000'000 * (v % 5), ""});
    }
    for (const Edge& e : base.Edges()) (void)g.AddEdge(e.u, e.v, e.cost);
    std::vector<VertexId> members = RandomMembers(seed, 50, 30);
    VertexId src = members.back();
    members.pop_back();
    const int32_t k = 4;
    const int64_t stream = 8'000'000;
    absl::StatusOr<StripedForest> f = BuildStripedForest(g, src, members, k, stream);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_EQ(f->stripes.size(), static_cast<size_t>(k));
    std::vector<int32_t> interior_count(50, 0);
    std::vector<int32_t> total_children(50, 0);
    for (int32_t s = 0; s < k; ++s) {
      const RootedTree& t = f->stripes[s];
      for (VertexId m : members) EXPECT_TRUE(t.Contains(m));
      std::vector<int32_t> kids = ChildCounts(t);
      for (VertexId v = 0; v < 50; ++v) {
        total_children[v] += kids[v];
        if (kids[v] > 0 && v != src) {
          ++interior_count[v];
          EXPECT_EQ(f->interior_stripe[v], s);
        }
      }
    }
    for (VertexId v = 0; v < 50; ++v) {
      EXPECT_LE(interior_count[v], 1);
      // Upload held: children * stripe rate <= upload.
      EXPECT_LE(total_children[v] * (stream / k), g.Vertex(v).upload_bps) << v;
    }
  }
}

TEST(StripedForestTest, TooLittleCapacityIsReported) {
  OverlayGraph g;
  for (int i = 0; i < 6; ++i) g.AddVertex(VertexInfo{absl::StrCat(i), 0, 1000, ""});
  for (int i = 1; i < 6; ++i) (void)g.AddEdge(0, i, 1);
  std::vector<VertexId> members = {1, 2, 3, 4, 5};
  EXPECT_EQ(BuildStripedForest(g, 0, members, 2, 1'000'000).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StripedForestTest, MembersThatCannotFeedAChildAreLeavesEverywhere) {
  // Near the source sit receivers whose upload carries no stripe; a forest
  // that made them interior would strand the fast ones behind them.
  OverlayGraph g;
  g.AddVertex(VertexInfo{"s", 0, 100'000'000, ""});
  for (int i = 1; i <= 12; ++i) {
    g.AddVertex(VertexInfo{absl::StrCat(i), 0, i <= 6 ? 1'000'000 : 100'000'000, ""});
  }
  for (VertexId u = 0; u <= 12; ++u) {
    for (VertexId v = u + 1; v <= 12; ++v) (void)g.AddEdge(u, v, v <= 6 ? 1 : 10 + u + v);
  }
  std::vector<VertexId> members;
  for (VertexId v = 1; v <= 12; ++v) members.push_back(v);
  absl::StatusOr<StripedForest> f = BuildStripedForest(g, 0, members, 2, 50'000'000);
  ASSERT_TRUE(f.ok()) << f.status();
  for (const RootedTree& t : f->stripes) {
    std::vector<int32_t> kids = ChildCounts(t);
    for (VertexId v = 1; v <= 6; ++v) EXPECT_EQ(kids[v], 0) << "slow " << v << " relays";
    for (VertexId v = 1; v <= 12; ++v) EXPECT_TRUE(t.Contains(v));
  }
}

TEST(StripedForestTest, StripesAreShallowAndShareTheUploadEvenly) {
  // 64 members of uploads 1..64 units in 4 stripes: each stripe's interior
  // members add up to about a quarter of the upload, and no stripe is a
  // chain (every hop delays a pipelined stripe by a chunk).
  constexpr int kMembers = 64;
  OverlayGraph g;
  g.AddVertex(VertexInfo{"s", 0, 64'000'000, ""});
  for (int i = 1; i <= kMembers; ++i)
    g.AddVertex(VertexInfo{absl::StrCat(i), 0, i * 1'000'000, ""});
  for (VertexId u = 0; u <= kMembers; ++u) {
    for (VertexId v = u + 1; v <= kMembers; ++v) (void)g.AddEdge(u, v, 1 + (u * 7 + v * 13) % 50);
  }
  std::vector<VertexId> members;
  for (VertexId v = 1; v <= kMembers; ++v) members.push_back(v);
  absl::StatusOr<StripedForest> f = BuildStripedForest(g, 0, members, 4, 16'000'000);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<int64_t> upload_of_stripe(4, 0);
  for (VertexId v = 1; v <= kMembers; ++v) {
    ASSERT_GE(f->interior_stripe[v], -1);
    if (f->interior_stripe[v] >= 0)
      upload_of_stripe[f->interior_stripe[v]] += g.Vertex(v).upload_bps;
  }
  const auto [low, high] = std::minmax_element(upload_of_stripe.begin(), upload_of_stripe.end());
  EXPECT_LE(*high - *low, 64'000'000) << "one member's upload at most";
  for (const RootedTree& t : f->stripes) {
    for (VertexId v = 1; v <= kMembers; ++v) {
      int depth = 0;
      for (VertexId u = v; u != t.root; u = t.parent[u]) ++depth;
      EXPECT_LE(depth, 4) << v;
    }
  }
}

TEST(BulkBoundTest, MatchesFormula) {
  // F = 800 Mbit, u_s = 100 Mbit/s, d_min = 50 Mbit/s, 10 receivers
  // uploading 20 Mbit/s each: max{8, 16, 8000/300=26.67}.
  EXPECT_NEAR(DistributionTimeBound(800e6, 100e6, 50e6, 10, 200e6), 800e7 / 300e6, 1e-9);
}

TEST(MetricsTest, LineTree) {
  OverlayGraph g = Line(4);
  (void)g.AddEdge(0, 3, 1);  // direct link makes the tree path stretch 3
  std::vector<VertexId> members = {1, 3};
  RootedTree t;
  t.root = 0;
  t.parent = {kNoVertex, 0, 1, 2};
  t.cost = 3;
  absl::StatusOr<TreeMetrics> m = ComputeTreeMetrics(g, t, members);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->total_cost, 3);
  EXPECT_EQ(m->max_delay, 3);
  EXPECT_DOUBLE_EQ(m->mean_delay, 2.0);
  EXPECT_DOUBLE_EQ(m->max_stretch, 3.0);
  EXPECT_DOUBLE_EQ(m->mean_stretch, 2.0);
  EXPECT_EQ(m->max_fanout_used, 1);
  EXPECT_EQ(m->depth, 3);
  std::vector<VertexId> outside = {1, 3};
  t.parent[3] = kNoVertex;
  EXPECT_FALSE(ComputeTreeMetrics(g, t, outside).ok());
}

TEST(MetricsTest, ShortestPathTreeHasStretchOne) {
  OverlayGraph g = RandomGraph(5, 100, 300, 50);
  std::vector<VertexId> members = RandomMembers(5, 100, 20);
  absl::StatusOr<RootedTree> t = ShortestPathTree(g, 0, members);
  ASSERT_TRUE(t.ok());
  absl::StatusOr<TreeMetrics> m = ComputeTreeMetrics(g, *t, members);
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->max_stretch, 1.0);
}

TEST(BulkPredictionTest, ChainPaysOneChunkPerHopAStarSplitsTheUpload) {
  OverlayGraph g;
  for (int i = 0; i < 4; ++i) g.AddVertex(VertexInfo{std::to_string(i), 0, 100, ""});
  RootedTree chain{0, {kNoVertex, 0, 1, 2}, 0};
  RootedTree star{0, {kNoVertex, 0, 0, 0}, 0};
  // 1000 bits in 10-bit chunks at 100 bit/s: the chain streams at 100 bit/s
  // and the last member waits 2 chunk times; the star streams at 100/3.
  EXPECT_DOUBLE_EQ(PredictedDistributionSeconds(g, chain, 1000, 10, 1), 10.2);
  EXPECT_DOUBLE_EQ(PredictedDistributionSeconds(g, star, 1000, 10, 1), 30.0);
  // Unknown uploads count as the default given.
  OverlayGraph unknown;
  for (int i = 0; i < 4; ++i) unknown.AddVertex(VertexInfo{std::to_string(i), 0, 0, ""});
  EXPECT_DOUBLE_EQ(PredictedDistributionSeconds(unknown, chain, 1000, 10, 50), 20.4);
  RootedTree lone{0, {kNoVertex, kNoVertex, kNoVertex, kNoVertex}, 0};
  EXPECT_EQ(PredictedDistributionSeconds(g, lone, 1000, 10, 1), 0);
}

TEST(BulkPredictionTest, ForestSharesTheSourceOverStripesAndEndsWithItsSlowestStripe) {
  // Source 0 (upload 200), fast members 1 and 2 (200), slow members 3 and 4 (20).
  OverlayGraph g;
  const int64_t uploads[] = {200, 200, 200, 20, 20};
  for (int i = 0; i < 5; ++i) g.AddVertex(VertexInfo{std::to_string(i), 0, uploads[i], ""});
  // Stripe 0 through member 1, stripe 1 through member 2.
  StripedForest forest;
  forest.stripes.push_back(RootedTree{0, {kNoVertex, 0, 1, 1, 1}, 0});
  forest.stripes.push_back(RootedTree{0, {kNoVertex, 2, 0, 2, 2}, 0});
  // Each stripe carries 500 of the 1000 bits. The source feeds 2 children in
  // all (100 each); members 1 and 2 feed 3 (66.7 each): the stripes stream
  // at 200/3 and the deepest member waits one chunk.
  const double rate = 200.0 / 3;
  EXPECT_DOUBLE_EQ(PredictedForestSeconds(g, forest, 1000, 10, 1), 500 / rate + 10 / rate);
  // The same members as a star from the source stream at 200/4 for the whole
  // file: the forest is faster, as it spreads the upload.
  RootedTree star{0, {kNoVertex, 0, 0, 0, 0}, 0};
  EXPECT_LT(PredictedForestSeconds(g, forest, 1000, 10, 1),
            PredictedDistributionSeconds(g, star, 1000, 10, 1));
  // A stripe that hangs a member under a slow one is that slow, and one
  // hop deeper.
  forest.stripes[1].parent[4] = 3;
  EXPECT_DOUBLE_EQ(PredictedForestSeconds(g, forest, 1000, 10, 1), 500 / 20.0 + 2 * 10 / 20.0);
  EXPECT_EQ(PredictedForestSeconds(g, StripedForest{}, 1000, 10, 1), 0);
}

}  // namespace
}  // namespace canopy::tree
