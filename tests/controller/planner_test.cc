#include "controller/planner.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

v1::SourceFilter Every() {
  v1::SourceFilter f;
  f.set_mode(v1::FILTER_MODE_EXCLUDE);
  return f;
}

v1::SourceFilter Only(const std::string& source) {
  v1::SourceFilter f;
  f.set_mode(v1::FILTER_MODE_INCLUDE);
  f.add_sources(source);
  return f;
}

NodeView Node(const std::string& id, uint32_t fanout = 0) {
  NodeView n;
  n.id = id;
  n.data_address = "127.0.0.1:" + std::to_string(7000 + id.back());
  n.max_fanout = fanout;
  return n;
}

// Ids for everything the nodes mention.
PlanInput WithIds(std::vector<NodeView> nodes) {
  PlanInput in;
  in.nodes = std::move(nodes);
  uint32_t next = 1;
  for (const NodeView& n : in.nodes) {
    for (const SourceKey& k : n.sources) {
      in.group_handles.emplace(k.first, 10);
      in.source_ids.emplace(k, next++);
    }
  }
  return in;
}

const v1::FlowEntry* EntryOf(const Plan& plan, const std::string& node) {
  auto it = plan.tables.find(node);
  if (it == plan.tables.end() || it->second.empty()) return nullptr;
  return &it->second.front();
}

std::vector<std::string> ChildrenOf(const v1::FlowEntry& e) {
  std::vector<std::string> out;
  for (const auto& h : e.children()) out.push_back(h.node_id());
  return out;
}

TEST(PlannerTest, TreeFromIngressToEveryMemberNode) {
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  a.sources = {{"g", "s"}};
  b.membership["g"] = Every();
  c.membership["g"] = Every();
  Plan plan = ComputePlan(WithIds({a, b, c}));
  ASSERT_THAT(plan.rejections, IsEmpty());
  const v1::FlowEntry* ea = EntryOf(plan, "a");
  ASSERT_NE(ea, nullptr);
  EXPECT_EQ(ea->parent(), "");
  EXPECT_FALSE(ea->local_delivery());
  EXPECT_THAT(ChildrenOf(*ea), UnorderedElementsAre("b", "c"));
  EXPECT_EQ(ea->group_handle(), 10u);
  const v1::FlowEntry* eb = EntryOf(plan, "b");
  ASSERT_NE(eb, nullptr);
  EXPECT_EQ(eb->parent(), "a");
  EXPECT_TRUE(eb->local_delivery());
  const v1::SourceTree& t = plan.trees.at({"g", "s"});
  EXPECT_EQ(t.root(), "a");
  EXPECT_THAT(t.receivers(), UnorderedElementsAre("b", "c"));
  EXPECT_EQ(t.cost(), 2);
}

TEST(PlannerTest, FanOutLimitMakesARelayChain) {
  NodeView a = Node("a", 1), b = Node("b", 1), c = Node("c", 1);
  a.sources = {{"g", "s"}};
  b.membership["g"] = Every();
  c.membership["g"] = Every();
  Plan plan = ComputePlan(WithIds({a, b, c}));
  ASSERT_THAT(ChildrenOf(*EntryOf(plan, "a")), SizeIs(1));
  // One of b, c relays to the other.
  const std::string first = ChildrenOf(*EntryOf(plan, "a"))[0];
  const std::string second = first == "b" ? "c" : "b";
  EXPECT_THAT(ChildrenOf(*EntryOf(plan, first)), UnorderedElementsAre(second));
  EXPECT_EQ(EntryOf(plan, second)->parent(), first);
}

TEST(PlannerTest, FiltersPruneNodesThatDoNotWantTheSource) {
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  a.sources = {{"g", "s"}};
  b.membership["g"] = Only("other");
  c.membership["g"] = Every();
  Plan plan = ComputePlan(WithIds({a, b, c}));
  EXPECT_THAT(ChildrenOf(*EntryOf(plan, "a")), UnorderedElementsAre("c"));
  EXPECT_EQ(EntryOf(plan, "b"), nullptr);
}

TEST(PlannerTest, AllowListRejectsOtherSources) {
  NodeView a = Node("a"), b = Node("b");
  a.sources = {{"g", "intruder"}, {"g", "trainer"}};
  b.membership["g"] = Every();
  PlanInput in = WithIds({a, b});
  in.allow_lists["g"] = {"trainer"};
  Plan plan = ComputePlan(in);
  ASSERT_THAT(plan.rejections, SizeIs(1));
  EXPECT_EQ(plan.rejections[0].node, "a");
  EXPECT_EQ(plan.rejections[0].key.second, "intruder");
  EXPECT_THAT(plan.rejections[0].reason, ::testing::HasSubstr("may not publish"));
  EXPECT_TRUE(plan.trees.contains({"g", "trainer"}));
  EXPECT_FALSE(plan.trees.contains({"g", "intruder"}));
}

TEST(PlannerTest, SameSourceOnTwoNodesKeepsTheLowestId) {
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  a.sources = {{"g", "s"}};
  b.sources = {{"g", "s"}};
  c.membership["g"] = Every();
  Plan plan = ComputePlan(WithIds({c, b, a}));
  ASSERT_THAT(plan.rejections, SizeIs(1));
  EXPECT_EQ(plan.rejections[0].node, "b");
  EXPECT_EQ(plan.trees.at({"g", "s"}).root(), "a");
}

TEST(PlannerTest, IngressWithoutRemoteMembersStillGetsItsEntry) {
  NodeView a = Node("a");
  a.sources = {{"g", "s"}};
  a.membership["g"] = Every();
  Plan plan = ComputePlan(WithIds({a}));
  const v1::FlowEntry* ea = EntryOf(plan, "a");
  ASSERT_NE(ea, nullptr);
  EXPECT_TRUE(ea->local_delivery());
  EXPECT_THAT(ea->children(), IsEmpty());
}

TEST(PlannerTest, DeterministicForTheSameInput) {
  NodeView a = Node("a", 2), b = Node("b", 2), c = Node("c"), d = Node("d");
  a.sources = {{"g", "s"}};
  for (NodeView* n : {&b, &c, &d}) n->membership["g"] = Every();
  Plan p1 = ComputePlan(WithIds({a, b, c, d}));
  Plan p2 = ComputePlan(WithIds({d, c, b, a}));
  EXPECT_EQ(p1.trees.at({"g", "s"}).SerializeAsString(),
            p2.trees.at({"g", "s"}).SerializeAsString());
}

}  // namespace
}  // namespace canopy::controller
