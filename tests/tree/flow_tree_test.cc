#include "tree/flow_tree.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace canopy::tree {
namespace {

// A diamond with a tail: s-a (10), s-b (30), a-c (10), b-c (5), c-d (10).
// Cheapest paths from s: a 10, b 30, c 20 (via a), d 30 (via a, c).
OverlayGraph Diamond() {
  OverlayGraph g;
  for (const char* name : {"s", "a", "b", "c", "d"}) g.AddVertex(VertexInfo{name, 0, 0, ""});
  EXPECT_TRUE(g.AddEdge(0, 1, 10).ok());
  EXPECT_TRUE(g.AddEdge(0, 2, 30).ok());
  EXPECT_TRUE(g.AddEdge(1, 3, 10).ok());
  EXPECT_TRUE(g.AddEdge(2, 3, 5).ok());
  EXPECT_TRUE(g.AddEdge(3, 4, 10).ok());
  return g;
}

constexpr VertexId kS = 0, kA = 1, kB = 2, kC = 3, kD = 4;

TEST(LatencyFlowTreeTest, ReachesEachWantedVertexAlongItsCheapestPathAndNothingElse) {
  const OverlayGraph g = Diamond();
  absl::StatusOr<LatencyFlowTree> t = LatencyFlowTree::Build(g, kS, {kD});
  ASSERT_TRUE(t.ok()) << t.status();
  const RootedTree& tree = t->tree();
  EXPECT_EQ(tree.root, kS);
  EXPECT_EQ(tree.parent[kD], kC);
  EXPECT_EQ(tree.parent[kC], kA);
  EXPECT_EQ(tree.parent[kA], kS);
  EXPECT_FALSE(tree.Contains(kB)) << "b is on no cheapest path to d";
  EXPECT_EQ(TreeCost(g, tree), 30);
  EXPECT_EQ(MaxDelay(g, tree, {kD}), 30);
}

TEST(LatencyFlowTreeTest, JoinAddsOnlyTheNewPathAndLeavePrunesBackToTheOthers) {
  const OverlayGraph g = Diamond();
  absl::StatusOr<LatencyFlowTree> t = LatencyFlowTree::Build(g, kS, {kC});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TreeCost(g, t->tree()), 20);

  ASSERT_TRUE(t->Join(kD));
  EXPECT_EQ(t->tree().parent[kD], kC);
  EXPECT_EQ(TreeCost(g, t->tree()), 30);

  ASSERT_TRUE(t->Join(kB));
  // b's cheapest path from s runs through c (25), not the direct link (30).
  EXPECT_EQ(t->tree().parent[kB], kC);
  EXPECT_EQ(TreeCost(g, t->tree()), 35);

  t->Leave(kC);
  // c still relays to d and b: leaving as a receiver must not cut them off.
  EXPECT_TRUE(t->tree().Contains(kC));
  EXPECT_EQ(t->tree().parent[kD], kC);

  t->Leave(kD);
  EXPECT_FALSE(t->tree().Contains(kD));
  EXPECT_TRUE(t->tree().Contains(kC)) << "c still feeds b";

  t->Leave(kB);
  EXPECT_FALSE(t->tree().Contains(kB));
  EXPECT_FALSE(t->tree().Contains(kC)) << "c wanted by nobody and feeding nobody is pruned";
  EXPECT_FALSE(t->tree().Contains(kA));
  EXPECT_EQ(TreeCost(g, t->tree()), 0);
}

TEST(LatencyFlowTreeTest, AnUnreachableMemberIsNamedNotSilentlyDropped) {
  OverlayGraph g = Diamond();
  g.AddVertex(VertexInfo{"island", 0, 0, ""});
  absl::StatusOr<LatencyFlowTree> t = LatencyFlowTree::Build(g, kS, {kD, 5});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(t.status().message().find("island"), std::string::npos) << t.status();
}

TEST(LatencyFlowTreeTest, AVertexAddedAfterBuildCannotJoinUntilTheFlowIsRebuilt) {
  OverlayGraph g = Diamond();
  absl::StatusOr<LatencyFlowTree> t = LatencyFlowTree::Build(g, kS, {kA});
  ASSERT_TRUE(t.ok()) << t.status();
  const VertexId late = g.AddVertex(VertexInfo{"late", 0, 0, ""});
  ASSERT_TRUE(g.AddEdge(kA, late, 1).ok());
  t->Grow(g.VertexCount());
  EXPECT_FALSE(t->Join(late));
  EXPECT_FALSE(t->tree().Contains(late));
  EXPECT_TRUE(t->tree().Contains(kA)) << "a failed join changes nothing";
}

TEST(DeriveFromSharedTest, KeepsOnlyTheEdgesOnPathsFromTheNewRoot) {
  // Shared tree (read undirected): a-s, s-b, b-c, b-d.
  RootedTree shared;
  shared.root = kS;
  shared.parent = {kNoVertex, kS, kS, kB, kB};
  const RootedTree derived = DeriveFromShared(shared, kC, {kD});
  EXPECT_EQ(derived.root, kC);
  EXPECT_EQ(derived.parent[kB], kC);
  EXPECT_EQ(derived.parent[kD], kB);
  EXPECT_FALSE(derived.Contains(kS));
  EXPECT_FALSE(derived.Contains(kA));

  const RootedTree outside = DeriveFromShared(shared, 7, {kD});
  EXPECT_EQ(outside.root, 7);
  EXPECT_FALSE(outside.Contains(kD)) << "a root outside the shared tree gets nothing";
}

TEST(TreeCostTest, AnEdgeMissingFromTheGraphMakesTheCostInvalid) {
  const OverlayGraph g = Diamond();
  RootedTree tree;
  tree.root = kS;
  tree.parent = {kNoVertex, kS, kNoVertex, kNoVertex, kS};  // s-d is no link
  EXPECT_EQ(TreeCost(g, tree), kInvalidCost);
  EXPECT_EQ(MaxDelay(g, tree, {kD}), kInvalidCost);
}

}  // namespace
}  // namespace canopy::tree
