#include "tree/incremental.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tree/test_graphs.h"
#include "tree/rooted_tree_util.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {
namespace {

using testing::RandomGraph;
using testing::RandomMembers;

TEST(IncrementalTest, GraftAndPruneKeepValidTrees) {
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    const int32_t n = 60;
    OverlayGraph g = RandomGraph(seed, n, 150, 40, seed % 2 ? 2 : 0);
    std::vector<VertexId> pool = RandomMembers(seed, n, 30);
    VertexId root = pool[0];
    std::vector<VertexId> members = {pool[1], pool[2]};
    absl::StatusOr<RootedTree> t = ShortestPathTree(g, root, members);
    ASSERT_TRUE(t.ok());
    // Joins.
    for (size_t i = 3; i < pool.size(); ++i) {
      absl::Status s = GraftMember(g, pool[i], *t);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
        continue;
      }
      members.push_back(pool[i]);
      ASSERT_TRUE(ValidateRootedTree(g, members, *t, /*check_fanout=*/true).ok())
          << "seed " << seed << " graft " << i << ": "
          << ValidateRootedTree(g, members, *t, true);
    }
    // Leaves, in a scrambled order.
    std::vector<VertexId> leaving(members.begin(), members.end());
    std::reverse(leaving.begin(), leaving.end());
    for (size_t i = 0; i + 1 < leaving.size(); i += 2) {
      members.erase(std::find(members.begin(), members.end(), leaving[i]));
      ASSERT_TRUE(PruneMember(g, leaving[i], members, *t).ok());
      ASSERT_TRUE(ValidateRootedTree(g, members, *t, true).ok())
          << ValidateRootedTree(g, members, *t, true);
      // Every leaf is a remaining member.
      std::vector<int32_t> kids = ChildCounts(*t);
      for (VertexId v = 0; v < n; ++v) {
        if (t->parent[v] != kNoVertex && kids[v] == 0) {
          EXPECT_NE(std::find(members.begin(), members.end(), v), members.end());
        }
      }
    }
  }
}

TEST(IncrementalTest, GraftUsesCheapestAttachment) {
  // Tree {0 - 1}; new member 3 hangs off 2 (cost 1) which connects to 1
  // (cost 1) or to 0 (cost 10).
  OverlayGraph g;
  for (int i = 0; i < 4; ++i) g.AddVertex(VertexInfo{absl::StrCat(i), 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 1, 5).ok());
  ASSERT_TRUE(g.AddEdge(1, 2, 1).ok());
  ASSERT_TRUE(g.AddEdge(0, 2, 10).ok());
  ASSERT_TRUE(g.AddEdge(2, 3, 1).ok());
  std::vector<VertexId> one = {1};
  absl::StatusOr<RootedTree> t = ShortestPathTree(g, 0, one);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(GraftMember(g, 3, *t).ok());
  EXPECT_EQ(t->parent[3], 2);
  EXPECT_EQ(t->parent[2], 1);
  EXPECT_EQ(t->cost, 7);
}

TEST(IncrementalTest, PruneOfRelayMemberKeepsIt) {
  OverlayGraph g;
  for (int i = 0; i < 3; ++i) g.AddVertex(VertexInfo{absl::StrCat(i), 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(0, 1, 1).ok());
  ASSERT_TRUE(g.AddEdge(1, 2, 1).ok());
  std::vector<VertexId> members = {1, 2};
  absl::StatusOr<RootedTree> t = ShortestPathTree(g, 0, members);
  ASSERT_TRUE(t.ok());
  std::vector<VertexId> rest = {2};
  ASSERT_TRUE(PruneMember(g, 1, rest, *t).ok());
  EXPECT_TRUE(t->Contains(1));
  EXPECT_EQ(t->cost, 2);
  rest.clear();
  ASSERT_TRUE(PruneMember(g, 2, rest, *t).ok());
  EXPECT_FALSE(t->Contains(1));
  EXPECT_FALSE(t->Contains(2));
  EXPECT_EQ(t->cost, 0);
}

TEST(IncrementalTest, ImproveReportsGainAndNeverWorsens) {
  int gained = 0;
  for (uint32_t seed = 1; seed <= 15; ++seed) {
    OverlayGraph g = RandomGraph(seed, 120, 400, 100);
    std::vector<VertexId> members = RandomMembers(seed, 120, 20);
    VertexId root = members.back();
    members.pop_back();
    absl::StatusOr<RootedTree> spt = ShortestPathTree(g, root, members);
    ASSERT_TRUE(spt.ok());
    absl::StatusOr<Improvement> better = ImproveTree(g, *spt, members);
    ASSERT_TRUE(better.ok()) << better.status();
    EXPECT_GE(better->gain, 0);
    EXPECT_EQ(better->tree.cost, spt->cost - better->gain);
    EXPECT_TRUE(ValidateRootedTree(g, members, better->tree, true).ok());
    if (better->gain > 0) ++gained;
    // A second pass on the improved tree has little left to gain.
    absl::StatusOr<Improvement> again = ImproveTree(g, better->tree, members);
    ASSERT_TRUE(again.ok());
    EXPECT_LE(again->gain, better->gain);
  }
  EXPECT_GT(gained, 10);
}

}  // namespace
}  // namespace canopy::tree
