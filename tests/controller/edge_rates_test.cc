// EdgeRates: rates from cumulative counters, lag measured at one instant,
// a stopped child held where it was; RankTraffic orders links and
// receivers.

#include "controller/edge_rates.h"

#include "controller/traffic_top.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

v1::TrafficReport Report(uint64_t sequence, uint64_t bytes, uint64_t repairs = 0) {
  v1::TrafficReport r;
  v1::FlowTraffic* f = r.add_flows();
  f->set_group("g");
  f->set_source("s");
  f->set_sequence(sequence);
  f->set_bytes(bytes);
  f->set_repairs(repairs);
  return r;
}

// a → b, b a receiver.
v1::GetTreeResponse Chain() {
  v1::GetTreeResponse r;
  r.set_group("g");
  v1::SourceTree* t = r.add_trees();
  t->set_source("s");
  t->set_root("a");
  v1::TreeEdge* e = t->add_edges();
  e->set_parent("a");
  e->set_child("b");
  t->add_receivers("b");
  return r;
}

TEST(EdgeRatesTest, RatesAndNoLagWhenReportsInterleave) {
  EdgeRates rates;
  // 100 messages of 10 bytes a second; b's reports come half a second after a's.
  for (int i = 0; i <= 2; ++i) {
    const absl::Time t = kStart + absl::Seconds(i);
    rates.Record(1, "a", Report(100 * i + 100, 1000 * i + 1000), t);
    rates.Record(2, "b", Report(100 * i + 150, 1000 * i + 1500), t + absl::Milliseconds(500));
  }
  v1::GetTreeResponse tree = Chain();
  rates.Annotate(tree, kStart + absl::Milliseconds(2600));
  const v1::EdgeTraffic& edge = tree.trees(0).edges(0).traffic();
  EXPECT_DOUBLE_EQ(edge.bytes_per_s(), 1000);
  EXPECT_DOUBLE_EQ(edge.messages_per_s(), 100);
  EXPECT_EQ(edge.lag_messages(), 0u);
  EXPECT_FALSE(edge.lagging());
  EXPECT_EQ(edge.sequence(), 350u);
  EXPECT_EQ(edge.report_age_ms(), 100u);
  const v1::SourceTraffic& flow = tree.trees(0).traffic();
  EXPECT_EQ(flow.ingress().sequence(), 300u);
  EXPECT_EQ(flow.receivers().at("b").lag_messages(), 0u);
}

TEST(EdgeRatesTest, AStoppedChildLagsMoreAndMore) {
  EdgeRates rates;
  rates.Record(2, "b", Report(100, 1000), kStart);
  rates.Record(2, "b", Report(200, 2000, 4), kStart + absl::Seconds(1));
  for (int i = 0; i <= 6; ++i) {
    rates.Record(1, "a", Report(100 * i + 100, 1000 * i + 1000), kStart + absl::Seconds(i));
  }
  v1::GetTreeResponse tree = Chain();
  rates.Annotate(tree, kStart + absl::Seconds(6));
  const v1::EdgeTraffic& edge = tree.trees(0).edges(0).traffic();
  EXPECT_EQ(edge.bytes_per_s(), 0);  // stale: no rate
  EXPECT_EQ(edge.lag_messages(), 500u);
  EXPECT_EQ(edge.lag_bytes(), 5000u);
  EXPECT_TRUE(edge.lagging());
  EXPECT_EQ(edge.repairs(), 4u);
  EXPECT_EQ(edge.report_age_ms(), 5000u);
}

TEST(EdgeRatesTest, ANewSessionOrARestartedFlowStartsAfreshAndForgetIsPerSession) {
  EdgeRates rates;
  rates.Record(1, "a", Report(100, 1000), kStart);
  rates.Record(1, "a", Report(200, 2000), kStart + absl::Seconds(1));
  rates.Record(3, "a", Report(5, 50), kStart + absl::Seconds(2));  // restarted node
  v1::GetTreeResponse tree = Chain();
  rates.Annotate(tree, kStart + absl::Seconds(2));
  EXPECT_EQ(tree.trees(0).traffic().ingress().sequence(), 5u);
  EXPECT_EQ(tree.trees(0).traffic().ingress().bytes_per_s(), 0);  // one sample only
  rates.Forget(1);  // the old session's end does not erase the new one
  tree = Chain();
  rates.Annotate(tree, kStart + absl::Seconds(2));
  EXPECT_TRUE(tree.trees(0).traffic().has_ingress());
  rates.Forget(3);
  tree = Chain();
  rates.Annotate(tree, kStart + absl::Seconds(2));
  EXPECT_FALSE(tree.trees(0).has_traffic());
  EXPECT_FALSE(tree.trees(0).edges(0).has_traffic());
}

TEST(EdgeRatesTest, LinkCountersComeFromTheParent) {
  EdgeRates rates;
  v1::TrafficReport a = Report(10, 100);
  v1::LinkTraffic* link = a.add_links();
  link->set_node_id("b");
  link->set_queued_bytes(4096);
  link->set_dropped_frames(7);
  rates.Record(1, "a", a, kStart);
  rates.Record(2, "b", Report(10, 100), kStart);
  v1::GetTreeResponse tree = Chain();
  rates.Annotate(tree, kStart);
  EXPECT_EQ(tree.trees(0).edges(0).traffic().queued_bytes(), 4096u);
  EXPECT_EQ(tree.trees(0).edges(0).traffic().dropped_frames(), 7u);
}

TEST(RankTrafficTest, BusiestLinksAndLaggingReceiversFirst) {
  v1::GetTreeResponse g;
  g.set_group("g");
  for (const char* source : {"s1", "s2"}) {
    v1::SourceTree* t = g.add_trees();
    t->set_source(source);
    t->set_root("a");
    for (const char* child : {"b", "c"}) {
      v1::TreeEdge* e = t->add_edges();
      e->set_parent("a");
      e->set_child(child);
      e->mutable_traffic()->set_bytes_per_s(child[0] == 'b' ? 10 : 100);
      v1::EdgeTraffic& r = (*t->mutable_traffic()->mutable_receivers())[child];
      r.set_lag_messages(child[0] == 'b' ? 50 : 1);
      r.set_lagging(child[0] == 'b' && source[1] == '2');
    }
    (*t->mutable_upload_bps())["a"] = 8000;
  }
  const v1::TopResponse top = RankTraffic({g}, 3);
  ASSERT_EQ(top.links_size(), 2);
  EXPECT_EQ(top.links(0).child(), "c");
  EXPECT_DOUBLE_EQ(top.links(0).bytes_per_s(), 200);
  EXPECT_EQ(top.links(0).flows(), 2u);
  EXPECT_EQ(top.links(0).parent_upload_bps(), 8000u);
  ASSERT_EQ(top.receivers_size(), 3);
  EXPECT_EQ(top.receivers(0).node_id(), "b");
  EXPECT_EQ(top.receivers(0).source(), "s2");  // the lagging one
  EXPECT_EQ(top.receivers(1).node_id(), "b");
}

}  // namespace
}  // namespace canopy::controller
