#include "controller/planner.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

class FakeIds final : public IdSource {
 public:
  absl::StatusOr<uint32_t> GroupHandle(const std::string& group) override {
    return groups_.try_emplace(group, groups_.size() + 1).first->second;
  }
  absl::StatusOr<uint32_t> SourceId(const std::string& group, const std::string& source) override {
    return sources_.try_emplace({group, source}, sources_.size() + 1).first->second;
  }

 private:
  std::map<std::string, uint32_t> groups_;
  std::map<SourceKey, uint32_t> sources_;
};

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

class PlannerTest : public ::testing::Test {
 protected:
  void Node(const std::string& id, uint32_t fanout = 0) {
    planner_.AddNode(NodeSpec{id, "10.0.0.1:" + std::to_string(7000 + id.back()), fanout, 0});
  }
  void Join(const std::string& node, const std::string& group, v1::SourceFilter f = Every()) {
    members_[node][group] = f;
    planner_.SetMembership(node, members_[node]);
  }
  void Leave(const std::string& node, const std::string& group) {
    members_[node].erase(group);
    planner_.SetMembership(node, members_[node]);
  }
  void Publish(const std::string& node, const std::string& group, const std::string& source) {
    sources_[node].insert({group, source});
    planner_.SetSources(node, sources_[node]);
  }
  std::optional<v1::FlowEntry> Entry(const std::string& node, const std::string& source = "s") {
    for (const v1::FlowEntry& e : planner_.TableOf(node)) {
      if (e.source() == source) return e;
    }
    return std::nullopt;
  }
  static std::vector<std::string> Children(const v1::FlowEntry& e) {
    std::vector<std::string> out;
    for (const auto& h : e.children()) out.push_back(h.node_id());
    return out;
  }
  void Settle() {
    planner_.TakeChangedNodes();
    planner_.TakeChangedGroups();
  }

  FakeIds ids_;
  Planner planner_{PlannerOptions{}, ids_};
  std::map<std::string, std::map<std::string, v1::SourceFilter>> members_;
  std::map<std::string, std::set<SourceKey>> sources_;
};

TEST_F(PlannerTest, TreeFromIngressToEveryMemberNode) {
  Node("a");
  Node("b");
  Node("c");
  Join("b", "g");
  Join("c", "g");
  Publish("a", "g", "s");
  ASSERT_THAT(planner_.TakeRejections(), IsEmpty());
  auto ea = Entry("a");
  ASSERT_TRUE(ea);
  EXPECT_EQ(ea->parent(), "");
  EXPECT_FALSE(ea->local_delivery());
  EXPECT_THAT(Children(*ea), UnorderedElementsAre("b", "c"));
  EXPECT_EQ(ea->group_handle(), 1u);
  auto eb = Entry("b");
  ASSERT_TRUE(eb);
  EXPECT_EQ(eb->parent(), "a");
  EXPECT_TRUE(eb->local_delivery());
  std::vector<v1::SourceTree> trees = planner_.Trees("g");
  ASSERT_THAT(trees, SizeIs(1));
  EXPECT_EQ(trees[0].root(), "a");
  EXPECT_THAT(trees[0].receivers(), UnorderedElementsAre("b", "c"));
  EXPECT_EQ(trees[0].cost(), 2000);  // two default-cost (1 ms) links
}

TEST_F(PlannerTest, FanOutLimitMakesARelayChain) {
  Node("a", 1);
  Node("b", 1);
  Node("c", 1);
  Join("b", "g");
  Join("c", "g");
  Publish("a", "g", "s");
  ASSERT_THAT(Children(*Entry("a")), SizeIs(1));
  const std::string first = Children(*Entry("a"))[0];
  const std::string second = first == "b" ? "c" : "b";
  EXPECT_THAT(Children(*Entry(first)), ElementsAre(second));
  EXPECT_EQ(Entry(second)->parent(), first);
}

TEST_F(PlannerTest, FiltersPruneNodesThatDoNotWantTheSource) {
  Node("a");
  Node("b");
  Node("c");
  Join("b", "g", Only("other"));
  Join("c", "g");
  Publish("a", "g", "s");
  EXPECT_THAT(Children(*Entry("a")), ElementsAre("c"));
  EXPECT_FALSE(Entry("b"));
}

TEST_F(PlannerTest, AllowListRejectsOtherSourcesOnce) {
  Node("a");
  Node("b");
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.add_allowed_sources("trainer");
  planner_.SetPolicy(policy);
  Join("b", "g");
  Publish("a", "g", "intruder");
  Publish("a", "g", "trainer");
  std::vector<Rejection> r = planner_.TakeRejections();
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(r[0].node, "a");
  EXPECT_EQ(r[0].key.second, "intruder");
  EXPECT_THAT(r[0].reason, ::testing::HasSubstr("may not publish"));
  EXPECT_TRUE(Entry("a", "trainer"));
  EXPECT_FALSE(Entry("a", "intruder"));
  Publish("a", "g", "trainer");  // nothing new to tell
  EXPECT_THAT(planner_.TakeRejections(), IsEmpty());
}

TEST_F(PlannerTest, SameSourceOnTwoNodesKeepsTheLowestId) {
  Node("a");
  Node("b");
  Node("c");
  Join("c", "g");
  Publish("b", "g", "s");
  Publish("a", "g", "s");
  std::vector<Rejection> r = planner_.TakeRejections();
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(r[0].node, "b");
  EXPECT_EQ(planner_.Trees("g")[0].root(), "a");
}

TEST_F(PlannerTest, JoinAndLeaveChangeOnlyTheNodesInvolved) {
  for (const char* n : {"a", "b", "c", "d"}) Node(n);
  Join("b", "g");
  Publish("a", "g", "s");
  Settle();
  const uint64_t full_plans = planner_.stats().full_plans;

  Join("d", "g");
  EXPECT_THAT(planner_.TakeChangedNodes(), UnorderedElementsAre("d", "a"));
  EXPECT_THAT(Children(*Entry("a")), UnorderedElementsAre("b", "d"));
  EXPECT_THAT(planner_.TakeChangedGroups(), ElementsAre("g"));

  Leave("b", "g");
  EXPECT_THAT(planner_.TakeChangedNodes(), UnorderedElementsAre("b", "a"));
  EXPECT_FALSE(Entry("b"));
  EXPECT_THAT(Children(*Entry("a")), ElementsAre("d"));
  EXPECT_EQ(planner_.stats().full_plans, full_plans);
  EXPECT_EQ(planner_.stats().incremental_changes, 2u);
}

TEST_F(PlannerTest, IngressIsListedLastAmongChangedNodes) {
  for (const char* n : {"a", "b", "c"}) Node(n);
  Join("a", "g");  // "a" < "b": alphabetical order alone would put it first
  Join("c", "g");
  Settle();
  Publish("b", "g", "s");
  std::vector<std::string> changed = planner_.TakeChangedNodes();
  ASSERT_FALSE(changed.empty());
  EXPECT_EQ(changed.back(), "b");
}

TEST_F(PlannerTest, RemovedNodeIsRoutedAround) {
  Node("a", 1);
  Node("b", 1);
  Node("c", 1);
  Join("b", "g");
  Join("c", "g");
  Publish("a", "g", "s");
  const std::string relay = Children(*Entry("a"))[0];
  const std::string leaf = relay == "b" ? "c" : "b";
  planner_.RemoveNode(relay);
  EXPECT_EQ(Entry(leaf)->parent(), "a");
  EXPECT_THAT(Children(*Entry("a")), ElementsAre(leaf));
}

TEST_F(PlannerTest, StaticLinksRestrictTheOverlay) {
  for (const char* n : {"a", "b", "c"}) Node(n);
  planner_.SetStaticLinks({{"a", "b", 500}, {"b", "c", 700}});
  Join("b", "g");
  Join("c", "g");
  Publish("a", "g", "s");
  EXPECT_THAT(Children(*Entry("a")), ElementsAre("b"));
  EXPECT_THAT(Children(*Entry("b")), ElementsAre("c"));
  EXPECT_EQ(planner_.Trees("g")[0].cost(), 1200);
}

TEST_F(PlannerTest, LatencyProfileFollowsMeasuredRttsPastHysteresis) {
  for (const char* n : {"a", "b", "c"}) Node(n);
  Join("c", "g");
  Publish("a", "g", "s");
  EXPECT_EQ(Entry("c")->parent(), "a");
  // a–c slightly slower than a–b–c: within 5 %, the tree stays.
  planner_.ReportRtts("a", {{"b", 500}, {"c", 1020}});
  planner_.ReportRtts("b", {{"c", 500}});
  EXPECT_EQ(planner_.Reoptimize().applied, 0);
  EXPECT_EQ(Entry("c")->parent(), "a");
  // Much slower: the tree moves to the relay path.
  planner_.ReportRtts("a", {{"c", 5000}});
  EXPECT_EQ(planner_.Reoptimize().applied, 1);
  EXPECT_EQ(Entry("c")->parent(), "b");
  EXPECT_EQ(planner_.stats().reoptimizations_applied, 1u);
}

TEST_F(PlannerTest, CostProfileSharesOneTreeAcrossSources) {
  for (const char* n : {"a", "b", "c", "d"}) Node(n);
  planner_.SetStaticLinks({{"a", "b", 100}, {"b", "c", 100}, {"c", "d", 100}, {"a", "d", 1000}});
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.set_profile(v1::TREE_PROFILE_COST);
  policy.set_ttl(4);
  policy.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
  planner_.SetPolicy(policy);
  Join("c", "g");
  Join("d", "g");
  Publish("a", "g", "s");
  Publish("d", "g", "t");
  // Shared tree a-b-c-d (cost 300), not the expensive a-d link; t (from d)
  // only needs its c-d part.
  std::vector<v1::SourceTree> trees = planner_.Trees("g");
  ASSERT_THAT(trees, SizeIs(2));
  EXPECT_EQ(trees[0].source(), "s");
  EXPECT_EQ(trees[0].cost(), 300);
  EXPECT_EQ(trees[1].cost(), 100);
  for (const auto& t : trees) EXPECT_EQ(t.profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ(Entry("d", "s")->parent(), "c");
  EXPECT_EQ(Entry("c", "t")->parent(), "d");
  EXPECT_EQ(Entry("a", "s")->ttl(), 4u);
  EXPECT_EQ(Entry("a", "s")->slow_receiver(), v1::SLOW_RECEIVER_REALTIME);
  // A leave prunes the shared tree: d's own source no longer reaches c...
  Leave("c", "g");
  EXPECT_FALSE(Entry("c", "t"));
  // ...while s still reaches d through c.
  EXPECT_EQ(Entry("d", "s")->parent(), "c");
}

TEST_F(PlannerTest, AMulticastDomainIsEnteredOnceAndItsForwarderEmits) {
  // a publishes; b, c and d share a LAN where multicast works.
  for (const char* n : {"a", "b", "c", "d"}) Node(n);
  for (const char* n : {"b", "c", "d"}) Join(n, "g");
  Publish("a", "g", "s");
  EXPECT_THAT(Children(*Entry("a")), UnorderedElementsAre("b", "c", "d"));  // unicast
  EXPECT_TRUE(planner_.SetMulticastDomains({{"b", "b"}, {"c", "b"}, {"d", "b"}}));
  EXPECT_FALSE(planner_.SetMulticastDomains({{"b", "b"}, {"c", "b"}, {"d", "b"}}));
  // One copy crosses into the LAN, to its forwarder.
  ASSERT_EQ(Entry("a")->children_size(), 1);
  const std::string forwarder = Entry("a")->children(0).node_id();
  EXPECT_FALSE(Entry("a")->children(0).via_multicast());
  const v1::FlowEntry f = *Entry(forwarder);
  EXPECT_TRUE(f.multicast_emit());
  EXPECT_TRUE(absl::StartsWith(f.multicast_group(), "239."));
  EXPECT_TRUE(absl::EndsWith(f.multicast_group(), ":7800"));
  EXPECT_EQ(f.multicast_group(), planner_.MulticastAddressOf("g"));
  EXPECT_EQ(f.children_size(), 2);
  for (const v1::Hop& hop : f.children()) {
    EXPECT_TRUE(hop.via_multicast()) << hop.node_id();
    const v1::FlowEntry member = *Entry(hop.node_id());
    EXPECT_EQ(member.parent(), forwarder);
    EXPECT_EQ(member.multicast_group(), f.multicast_group());
    EXPECT_FALSE(member.multicast_emit());
  }
  // Another group maps elsewhere (most likely), always into 239.0.0.0/8.
  EXPECT_TRUE(absl::StartsWith(planner_.MulticastAddressOf("other"), "239."));
  // The LAN's multicast breaks: back to unicast from the source.
  EXPECT_TRUE(planner_.SetMulticastDomains({}));
  EXPECT_THAT(Children(*Entry("a")), UnorderedElementsAre("b", "c", "d"));
  EXPECT_TRUE(Entry("b")->multicast_group().empty());
}

TEST_F(PlannerTest, GroupsMapIntoTheConfiguredMulticastRange) {
  PlannerOptions options;
  options.multicast_base = 0xEF050000;  // 239.5.0.0/16
  options.multicast_prefix = 16;
  options.multicast_port = 9000;
  Planner planner(options, ids_);
  for (const char* g : {"a", "b", "video/1", "ckpt"}) {
    const std::string address = planner.MulticastAddressOf(g);
    EXPECT_TRUE(absl::StartsWith(address, "239.5.")) << address;
    EXPECT_TRUE(absl::EndsWith(address, ":9000")) << address;
    EXPECT_EQ(address, planner.MulticastAddressOf(g));  // stable
    EXPECT_NE(address, "239.5.0.0:9000");
    EXPECT_NE(address, "239.5.255.255:9000");
  }
}

TEST_F(PlannerTest, CostGroupsAlsoEnterAMulticastDomainOnce) {
  for (const char* n : {"a", "b", "c", "d"}) Node(n);
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.set_profile(v1::TREE_PROFILE_COST);
  planner_.SetPolicy(policy);
  ASSERT_TRUE(planner_.SetMulticastDomains({{"b", "b"}, {"c", "b"}, {"d", "b"}}));
  for (const char* n : {"b", "c", "d"}) Join(n, "g");
  Publish("a", "g", "s");
  ASSERT_EQ(Entry("a")->children_size(), 1);
  const v1::FlowEntry f = *Entry(Entry("a")->children(0).node_id());
  EXPECT_TRUE(f.multicast_emit());
  EXPECT_EQ(f.children_size(), 2);
  // A member leaving no longer gets the flow delivered; the others still do.
  Leave("d", "g");
  EXPECT_TRUE(!Entry("d") || !Entry("d")->local_delivery());
  for (const char* n : {"b", "c"}) {
    ASSERT_TRUE(Entry(n)) << n;
    EXPECT_TRUE(Entry(n)->local_delivery()) << n;
    EXPECT_FALSE(Entry(n)->multicast_group().empty()) << n;
  }
}

TEST_F(PlannerTest, BulkProfileIsAChain) {
  for (const char* n : {"a", "b", "c", "d"}) Node(n);
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.set_profile(v1::TREE_PROFILE_BULK);
  planner_.SetPolicy(policy);
  for (const char* n : {"b", "c", "d"}) Join(n, "g");
  Publish("a", "g", "s");
  for (const char* n : {"a", "b", "c", "d"}) EXPECT_LE(Entry(n)->children_size(), 1) << n;
  EXPECT_THAT(planner_.Trees("g")[0].edges(), SizeIs(3));
  EXPECT_EQ(planner_.Trees("g")[0].bulk().shape(), "chain");
  EXPECT_EQ(planner_.Trees("g")[0].bulk().stripes(), 1u);
  // Other profiles predict nothing.
  policy.set_profile(v1::TREE_PROFILE_LATENCY);
  planner_.SetPolicy(policy);
  EXPECT_FALSE(planner_.Trees("g")[0].has_bulk());
}

TEST_F(PlannerTest, BulkProfilePicksTheShapePredictedToFinishFirst) {
  // A source ten times faster than its receivers feeds all four at once
  // (2.5 Gbit/s each) rather than through a chain of 1 Gbit/s uploads.
  planner_.AddNode(NodeSpec{"a", "10.0.0.1:7001", 0, 10'000'000'000});
  for (const char* n : {"b", "c", "d", "e"}) {
    planner_.AddNode(NodeSpec{n, std::string("10.0.0.1:700") + n, 0, 1'000'000'000});
  }
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.set_profile(v1::TREE_PROFILE_BULK);
  planner_.SetPolicy(policy);
  for (const char* n : {"b", "c", "d", "e"}) Join(n, "g");
  Publish("a", "g", "s");
  EXPECT_THAT(Children(*Entry("a")), UnorderedElementsAre("b", "c", "d", "e"));
  // With the source as slow as the rest, the chain wins again.
  planner_.AddNode(NodeSpec{"a", "10.0.0.1:7001", 0, 1'000'000'000});
  Publish("a", "g", "s");
  for (const char* n : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(Entry(n)) << n;
    EXPECT_LE(Entry(n)->children_size(), 1) << n;
  }
}

TEST_F(PlannerTest, BulkStripesOfOneSourceGetAForestThatSpreadsTheUpload) {
  // Four fast receivers and four that can hardly upload: no chain can carry
  // the stream (two slow members cannot both be last), and a star from the
  // source splits its upload eight ways. A forest relays each stripe
  // through another fast receiver.
  planner_.AddNode(NodeSpec{"a", "10.0.0.1:7000", 0, 200'000'000});
  const std::vector<std::string> fast = {"b", "c", "d", "e"}, slow = {"f", "g", "h", "i"};
  for (const std::string& n : fast) planner_.AddNode(NodeSpec{n, "10.0.0.1:7001", 0, 200'000'000});
  for (const std::string& n : slow) planner_.AddNode(NodeSpec{n, "10.0.0.1:7002", 0, 20'000'000});
  v1::GroupPolicy policy;
  policy.set_group("g");
  policy.set_profile(v1::TREE_PROFILE_BULK);
  policy.add_allowed_sources("s");  // covers every stripe of s
  planner_.SetPolicy(policy);
  v1::SourceFilter only_s;
  only_s.set_mode(v1::FILTER_MODE_INCLUDE);
  only_s.add_sources("s");
  for (const std::string& n : fast) Join(n, "g", only_s);
  for (const std::string& n : slow) Join(n, "g", only_s);
  for (int i = 0; i < 4; ++i) Publish("a", "g", absl::StrCat("s#", i, "/4"));
  EXPECT_TRUE(planner_.TakeRejections().empty());

  std::map<std::string, int> relays_in;  // node → stripes it forwards in
  for (int i = 0; i < 4; ++i) {
    const std::string stripe = absl::StrCat("s#", i, "/4");
    for (const std::string& n : fast) ASSERT_TRUE(Entry(n, stripe)) << n << " " << stripe;
    for (const std::string& n : slow) {
      ASSERT_TRUE(Entry(n, stripe)) << n << " " << stripe;
      EXPECT_EQ(Entry(n, stripe)->children_size(), 0) << n << " relays " << stripe;
    }
    for (const std::string& n : fast) {
      if (Entry(n, stripe)->children_size() > 0) ++relays_in[n];
    }
    EXPECT_LT(Entry("a", stripe)->children_size(), 8) << stripe;
  }
  // Every fast receiver relays exactly one stripe: the upload is spread.
  for (const std::string& n : fast) EXPECT_EQ(relays_in[n], 1) << n;
  // The operator sees the choice and its prediction beside the bound.
  const std::vector<v1::SourceTree> trees = planner_.Trees("g");
  ASSERT_THAT(trees, SizeIs(4));
  for (const v1::SourceTree& t : trees) {
    ASSERT_TRUE(t.has_bulk()) << t.source();
    EXPECT_EQ(t.bulk().shape(), "forest");
    EXPECT_EQ(t.bulk().trees(), 4u);
    EXPECT_EQ(t.bulk().stripes(), 4u);
    EXPECT_EQ(t.bulk().reference_bytes(), uint64_t{1} << 30);
    // 8 receivers share 200 + 4·200 + 4·20 Mbit/s of upload.
    EXPECT_NEAR(t.bulk().bound_seconds(), 8 * 8.0 * (1 << 30) / 1080e6, 1e-6);
    EXPECT_GE(t.bulk().predicted_seconds(), t.bulk().bound_seconds());
  }

  // RTTs that swing under the transfer's own load do not move it: other
  // hops would not carry it any faster.
  const std::vector<std::string> before = Children(*Entry("a", "s#0/4"));
  planner_.ReportRtts("a", {{"f", 10}, {"g", 10}, {"h", 10}, {"i", 10}});
  for (const std::string& n : fast) {
    planner_.ReportRtts(n, {{"f", 50'000}, {"g", 50'000}, {"h", 50'000}, {"i", 50'000}});
  }
  EXPECT_EQ(planner_.Reoptimize().applied, 0);
  EXPECT_EQ(Children(*Entry("a", "s#0/4")), before);

  // One stripe's flow ending does not move the others' transfers.
  std::map<std::string, std::vector<std::string>> kept;
  for (const std::string& n : fast) kept[n] = Children(*Entry(n, "s#1/4"));
  sources_["a"].erase({"g", "s#3/4"});
  planner_.SetSources("a", sources_["a"]);
  EXPECT_FALSE(Entry("b", "s#3/4"));
  for (const std::string& n : fast) EXPECT_EQ(Children(*Entry(n, "s#1/4")), kept[n]) << n;
  // A full re-plan of the incomplete set gives its stripes one shape again.
  planner_.ReplanAll();
  for (const std::string& n : fast) {
    EXPECT_EQ(Children(*Entry(n, "s#0/4")), Children(*Entry(n, "s#1/4"))) << n;
    EXPECT_EQ(Children(*Entry(n, "s#0/4")), Children(*Entry(n, "s#2/4"))) << n;
  }
}

TEST_F(PlannerTest, NodeArrivingAfterTheFlowCanJoinIt) {
  Node("a");
  Node("b");
  Join("b", "g");
  Publish("a", "g", "s");
  Node("c");  // extends the graph; the flow's tree predates it
  Join("c", "g");
  EXPECT_THAT(Children(*Entry("a")), UnorderedElementsAre("b", "c"));
  EXPECT_EQ(Entry("c")->parent(), "a");
}

TEST_F(PlannerTest, ReoptimizeAfterAnArrivalKeepsTreesOnTheRightNodes) {
  Node("b");
  Node("c");
  Join("c", "g");
  Publish("b", "g", "s");
  Node("a");  // sorts first: a rebuild in id order would renumber every vertex
  planner_.ReportRtts("b", {{"c", 990}});  // within hysteresis: old trees kept
  EXPECT_EQ(planner_.Reoptimize().applied, 0);
  Join("a", "g");  // an incremental change after the pass uses its trees
  EXPECT_EQ(Entry("c")->parent(), "b");
  EXPECT_EQ(Entry("a")->parent(), "b");
  EXPECT_THAT(Children(*Entry("b")), UnorderedElementsAre("a", "c"));
  EXPECT_EQ(planner_.Trees("g")[0].root(), "b");
}

TEST_F(PlannerTest, APolicyAloneDoesNotMakeAGroupActive) {
  v1::GroupPolicy policy;
  policy.set_group("quiet");
  policy.set_profile(v1::TREE_PROFILE_COST);
  planner_.SetPolicy(policy);
  EXPECT_FALSE(planner_.HasMembersOrSources("quiet"));
}

TEST_F(PlannerTest, MembersFollowJoinsLeavesAndNodesThatGo) {
  Node("a");
  Node("b");
  Node("c");
  Join("a", "g");
  Join("b", "g", Only("s"));
  Join("b", "h");
  EXPECT_THAT(planner_.Members("g"),
              ::testing::ElementsAre(::testing::Key("a"), ::testing::Key("b")));
  EXPECT_EQ(planner_.Members("g").at("b").sources(0), "s");
  Leave("a", "g");
  EXPECT_THAT(planner_.Members("g"), ::testing::ElementsAre(::testing::Key("b")));
  EXPECT_TRUE(planner_.HasMembersOrSources("h"));
  planner_.RemoveNode("b");
  EXPECT_TRUE(planner_.Members("g").empty());
  EXPECT_FALSE(planner_.HasMembersOrSources("h"));
  // A source alone makes a group active, until its node goes.
  Publish("c", "only-sources", "s");
  EXPECT_TRUE(planner_.HasMembersOrSources("only-sources"));
  sources_["c"].clear();
  planner_.SetSources("c", {});
  EXPECT_FALSE(planner_.HasMembersOrSources("only-sources"));
}

TEST_F(PlannerTest, RttsAboutUnknownNodesAreIgnored) {
  Node("a");
  planner_.ReportRtts("a", {{"ghost", 5}});
  planner_.ReportRtts("ghost", {{"a", 5}});
  Node("ghost");
  Join("ghost", "g");
  Publish("a", "g", "s");
  EXPECT_EQ(planner_.Trees("g")[0].cost(), 1000);  // the default, not 5
}

TEST_F(PlannerTest, IngressWithoutRemoteMembersStillGetsItsEntry) {
  Node("a");
  Join("a", "g");
  Publish("a", "g", "s");
  auto ea = Entry("a");
  ASSERT_TRUE(ea);
  EXPECT_TRUE(ea->local_delivery());
  EXPECT_THAT(ea->children(), IsEmpty());
}

TEST_F(PlannerTest, EndedSourceRemovesItsEntries) {
  Node("a");
  Node("b");
  Join("b", "g");
  Publish("a", "g", "s");
  Settle();
  sources_["a"].clear();
  planner_.SetSources("a", {});
  EXPECT_FALSE(Entry("a"));
  EXPECT_FALSE(Entry("b"));
  EXPECT_THAT(planner_.TakeChangedNodes(), UnorderedElementsAre("a", "b"));
}

}  // namespace
}  // namespace canopy::controller

namespace canopy::controller {
namespace {

// A chain with no detour (static links a–b, b–c), a source at a and a
// member at c, under every profile: losing b cuts c off visibly, and b's
// return heals the tree, whatever the order things come back in.
class PlannerHealTest : public PlannerTest, public ::testing::WithParamInterface<v1::TreeProfile> {
 protected:
  void SetUp() override {
    v1::GroupPolicy policy;
    policy.set_group("g");
    policy.set_profile(GetParam());
    planner_.SetPolicy(policy);
    planner_.SetStaticLinks({{"a", "b", 100}, {"b", "c", 100}});
  }
  std::vector<std::string> Unreachable() {
    std::vector<std::string> out;
    for (const v1::SourceTree& t : planner_.Trees("g")) {
      for (const v1::UnreachableMember& m : t.unreachable()) out.push_back(m.node_id());
    }
    return out;
  }
};

TEST_P(PlannerHealTest, MiddleNodeLeavesAndComesBack) {
  Node("a");
  Node("b");
  Node("c");
  Join("c", "g");
  Publish("a", "g", "s");
  ASSERT_TRUE(Entry("c"));
  EXPECT_EQ(Entry("c")->parent(), "b");
  EXPECT_THAT(Unreachable(), IsEmpty());

  planner_.RemoveNode("b");
  EXPECT_FALSE(Entry("c"));
  EXPECT_THAT(Unreachable(), ElementsAre("c"));
  const std::vector<v1::CutOffSource> cut = planner_.CutOffOf("c");
  ASSERT_THAT(cut, SizeIs(1));
  EXPECT_EQ(cut[0].source(), "s");
  EXPECT_TRUE(absl::StrContains(cut[0].reason(), "no overlay path from a")) << cut[0].reason();
  ASSERT_TRUE(Entry("a"));
  ASSERT_THAT(Entry("a")->unreachable(), SizeIs(1));  // the ingress knows too
  EXPECT_EQ(planner_.unreachable_count(), 1u);
  Settle();

  Node("b");  // restarted with the same id
  ASSERT_TRUE(Entry("c"));
  EXPECT_EQ(Entry("c")->parent(), "b");
  EXPECT_THAT(Unreachable(), IsEmpty());
  EXPECT_THAT(planner_.CutOffOf("c"), IsEmpty());
  EXPECT_EQ(planner_.unreachable_count(), 0u);
  EXPECT_THAT(planner_.TakeChangedNodes(), Contains("c"));
  EXPECT_THAT(planner_.TakeChangedGroups(), Contains("g"));
}

TEST_P(PlannerHealTest, SoftStateReturnsIngressFirst) {
  // A controller restart: the ingress and the member report before the
  // relay between them is back.
  Node("a");
  Node("c");
  Join("c", "g");
  Publish("a", "g", "s");
  EXPECT_FALSE(Entry("c"));
  EXPECT_THAT(Unreachable(), ElementsAre("c"));
  Node("b");
  ASSERT_TRUE(Entry("c"));
  EXPECT_EQ(Entry("c")->parent(), "b");
  ASSERT_TRUE(Entry("b"));
  EXPECT_EQ(Entry("b")->parent(), "a");
  EXPECT_THAT(Unreachable(), IsEmpty());
}

TEST_P(PlannerHealTest, ReachableMembersKeepTheirTreeWhileOneIsCutOff) {
  Node("a");
  Node("b");
  Node("c");
  Join("b", "g");
  Join("c", "g");
  Publish("a", "g", "s");
  planner_.SetStaticLinks({{"a", "b", 100}});  // c loses its only link
  ASSERT_TRUE(Entry("b"));
  EXPECT_EQ(Entry("b")->parent(), "a");
  EXPECT_THAT(Unreachable(), ElementsAre("c"));
  planner_.SetStaticLinks({{"a", "b", 100}, {"b", "c", 100}});
  EXPECT_THAT(Unreachable(), IsEmpty());
  ASSERT_TRUE(Entry("c"));
}

TEST_P(PlannerHealTest, ParentTokenTravelsToTheChild) {
  planner_.AddNode(NodeSpec{"a", "10.0.0.1:7001", 0, 0, "token-of-a"});
  planner_.AddNode(NodeSpec{"b", "10.0.0.2:7001", 0, 0, "token-of-b"});
  planner_.AddNode(NodeSpec{"c", "10.0.0.3:7001", 0, 0, "token-of-c"});
  Join("c", "g");
  Publish("a", "g", "s");
  ASSERT_TRUE(Entry("b"));
  EXPECT_EQ(Entry("b")->parent_token(), "token-of-a");
  ASSERT_TRUE(Entry("c"));
  EXPECT_EQ(Entry("c")->parent_token(), "token-of-b");
}

INSTANTIATE_TEST_SUITE_P(Profiles, PlannerHealTest,
                         ::testing::Values(v1::TREE_PROFILE_LATENCY, v1::TREE_PROFILE_COST,
                                           v1::TREE_PROFILE_BULK),
                         [](const ::testing::TestParamInfo<v1::TreeProfile>& info) {
                           return std::string(v1::TreeProfile_Name(info.param));
                         });

}  // namespace
}  // namespace canopy::controller
