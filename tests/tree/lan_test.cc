#include "tree/lan.h"

#include <vector>

#include "gtest/gtest.h"

namespace canopy::tree {
namespace {

// src (no LAN) --10-- a1 ; LAN "x" = {a1, a2, a3}; a3 --4-- b (no LAN);
// a2 --3-- src too, so the LAN is entered at a2 (cheaper).
OverlayGraph LanGraph() {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"src", 0, 0, ""});  // 0
  g.AddVertex(VertexInfo{"a1", 0, 0, "x"});  // 1
  g.AddVertex(VertexInfo{"a2", 0, 0, "x"});  // 2
  g.AddVertex(VertexInfo{"a3", 0, 0, "x"});  // 3
  g.AddVertex(VertexInfo{"b", 0, 0, ""});    // 4
  (void)g.AddEdge(0, 1, 10);
  (void)g.AddEdge(0, 2, 3);
  (void)g.AddEdge(1, 2, 2);
  (void)g.AddEdge(2, 3, 2);
  (void)g.AddEdge(3, 4, 4);
  (void)g.AddEdge(0, 4, 50);
  return g;
}

TEST(LanTreeTest, OneCopyEntersTheLanAtItsForwarder) {
  OverlayGraph g = LanGraph();
  std::vector<VertexId> members = {1, 3, 4};
  for (TreeProfile profile : {TreeProfile::kLatency, TreeProfile::kCost}) {
    absl::StatusOr<LanTree> t = BuildLanTree(g, 0, members, profile);
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_EQ(t->forwarder.count("x"), 1u);
    EXPECT_EQ(t->forwarder.at("x"), 2);  // entered over the cost-3 link
    EXPECT_EQ(t->tree.parent[2], 0);
    EXPECT_EQ(t->tree.parent[1], 2);
    EXPECT_TRUE(t->via_lan[1]);
    EXPECT_TRUE(t->via_lan[3]);  // member and relay towards b
    EXPECT_EQ(t->tree.parent[4], 3);
    EXPECT_FALSE(t->via_lan[4]);
    EXPECT_EQ(t->tree.cost, 3 + 4);  // in-LAN delivery is free
    for (VertexId m : members) EXPECT_TRUE(t->tree.Contains(m));
  }
}

TEST(LanTreeTest, RootInsideLanForwards) {
  OverlayGraph g = LanGraph();
  std::vector<VertexId> members = {2, 4};
  absl::StatusOr<LanTree> t = BuildLanTree(g, 1, members, TreeProfile::kLatency);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->forwarder.at("x"), 1);
  EXPECT_TRUE(t->via_lan[2]);
  EXPECT_EQ(t->tree.parent[4], 3);
  EXPECT_EQ(t->tree.cost, 4);
}

TEST(LanTreeTest, DisconnectedLanIsNamed) {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"src", 0, 0, ""});
  g.AddVertex(VertexInfo{"c1", 0, 0, "far"});
  g.AddVertex(VertexInfo{"c2", 0, 0, "far"});
  std::vector<VertexId> members = {1};
  absl::StatusOr<LanTree> t = BuildLanTree(g, 0, members, TreeProfile::kCost);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("lan:far"), absl::string_view::npos) << t.status();
}

}  // namespace
}  // namespace canopy::tree
