#include "tree/shortest_path_tree.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tree/test_graphs.h"
#include "tree/rooted_tree_util.h"

namespace canopy::tree {
namespace {

using testing::RandomGraph;
using testing::RandomMembers;

// Bellman-Ford distances: slow but obviously right, the oracle.
std::vector<int64_t> Distances(const OverlayGraph& g, VertexId root) {
  std::vector<int64_t> dist(g.VertexCount(), -1);
  dist[root] = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (const Edge& e : g.Edges()) {
      for (auto [a, b] : {std::pair{e.u, e.v}, std::pair{e.v, e.u}}) {
        if (dist[a] >= 0 && (dist[b] < 0 || dist[a] + e.cost < dist[b])) {
          dist[b] = dist[a] + e.cost;
          changed = true;
        }
      }
    }
  }
  return dist;
}

int64_t TreeDelay(const OverlayGraph& g, const RootedTree& t, VertexId v) {
  int64_t d = 0;
  for (; v != t.root; v = t.parent[v]) d += *g.Cost(v, t.parent[v]);
  return d;
}

TEST(ShortestPathTreeTest, ShortestDelaysAndValidOnRandomGraphs) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const int32_t n = 10 + static_cast<int32_t>(seed * 11 % 90);
    OverlayGraph g = RandomGraph(seed, n, n * 2, 50);
    std::vector<VertexId> members = RandomMembers(seed, n, 1 + static_cast<int32_t>(seed % 15));
    VertexId root = static_cast<VertexId>(seed % n);
    absl::StatusOr<RootedTree> t = ShortestPathTree(g, root, members);
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_TRUE(ValidateRootedTree(g, members, *t, true).ok())
        << ValidateRootedTree(g, members, *t, true);
    std::vector<int64_t> dist = Distances(g, root);
    for (VertexId m : members) EXPECT_EQ(TreeDelay(g, *t, m), dist[m]) << "seed " << seed;
    std::vector<int32_t> kids = ChildCounts(*t);
    for (VertexId v = 0; v < n; ++v) {
      if (t->parent[v] != kNoVertex && kids[v] == 0) {
        EXPECT_THAT(members, ::testing::Contains(v)) << "non-member leaf";
      }
    }
  }
}

TEST(ShortestPathTreeTest, HoldsFanoutLimits) {
  int built = 0;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    const int32_t n = 40;
    OverlayGraph g = RandomGraph(seed, n, 200, 50, /*min_fanout=*/2);
    std::vector<VertexId> members = RandomMembers(seed, n, 25);
    absl::StatusOr<RootedTree> t = ShortestPathTree(g, members[0], members);
    if (!t.ok()) continue;
    ++built;
    EXPECT_TRUE(ValidateRootedTree(g, members, *t, /*check_fanout=*/true).ok());
  }
  EXPECT_GT(built, 20);
}

TEST(ShortestPathTreeTest, DisconnectedMembersAreNamed) {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"src", 0, 0, ""});
  g.AddVertex(VertexInfo{"near", 0, 0, ""});
  g.AddVertex(VertexInfo{"island", 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 1, 3).ok());
  std::vector<VertexId> members = {1, 2};
  absl::StatusOr<RootedTree> t = ShortestPathTree(g, 0, members);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(t.status().message(), ::testing::HasSubstr("island"));
}

TEST(OverlayGraphTest, RejectsBadEdgesAndFoldsParallelOnes) {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"a", 0, 0, ""});
  g.AddVertex(VertexInfo{"b", 0, 0, ""});
  EXPECT_FALSE(g.AddEdge(0, 0, 1).ok());
  EXPECT_FALSE(g.AddEdge(0, 2, 1).ok());
  EXPECT_FALSE(g.AddEdge(0, 1, -1).ok());
  ASSERT_TRUE(g.AddEdge(0, 1, 9).ok());
  ASSERT_TRUE(g.AddEdge(1, 0, 4).ok());
  ASSERT_TRUE(g.AddEdge(0, 1, 6).ok());
  EXPECT_EQ(g.Edges().size(), 1u);
  EXPECT_EQ(g.Cost(1, 0), 4);
  EXPECT_EQ(g.Cost(0, 1), 4);
  EXPECT_FALSE(g.Cost(0, 5).has_value());
}

}  // namespace
}  // namespace canopy::tree
