// In-process relays over real loopback links, with tables set by hand:
// a child that missed frames is served from its new parent's ring, from
// further up when that ring lacks them, and told of a gap only when nobody
// holds them. Delivery acknowledgements travel up the same kind of tree,
// and only from the flow's children.

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/forwarding_state.h"
#include "node/held_resumes.h"
#include "node/local_clients.h"
#include "node/relay.h"
#include "wire/ack_frames.h"

namespace canopy::node {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

// One node: its table, clients and relay.
struct TestNode {
  TestNode(const std::string& node_id, size_t replay_bytes) : id(node_id), clients([] {}) {
    RelayOptions options;
    options.node_id = id;
    options.replay_bytes = replay_bytes;
    options.repair_timeout = absl::Seconds(5);
    state.ApplyPolicies(v1::PolicyUpdate());  // as the controller sends first: no allow-lists
    relay = std::make_unique<Relay>(options, state, clients);
    auto bound = relay->Start(wire::Endpoint{"127.0.0.1", 0});
    EXPECT_TRUE(bound.ok()) << bound.status();
    address = bound->ToString();
  }
  ~TestNode() { relay->Stop(); }

  // One flow of source "s": its group, group handle, parent and children.
  struct Flow {
    std::string group;
    uint32_t group_handle = 1;
    std::string parent;
    std::vector<const TestNode*> children;
    bool local_delivery = false;
  };

  // Installs a table with these flows.
  void SetFlows(const std::vector<Flow>& flows) {
    v1::ForwardingTable table;
    table.set_version(++version);
    for (const Flow& flow : flows) {
      v1::FlowEntry* e = table.add_flows();
      e->set_group(flow.group);
      e->set_source("s");
      e->set_group_handle(flow.group_handle);
      e->set_source_id(1);
      e->set_parent(flow.parent);
      e->set_local_delivery(flow.local_delivery);
      for (const TestNode* child : flow.children) {
        v1::Hop* hop = e->add_children();
        hop->set_node_id(child->id);
        hop->set_data_address(child->address);
      }
    }
    state.ApplyTable(table, absl::Now());
    relay->OnTableChanged();
  }

  // Installs a table with the one flow ("g", "s") = ids (1, 1).
  void SetFlow(const std::string& parent, const std::vector<const TestNode*>& children,
               bool local_delivery) {
    SetFlows({Flow{"g", 1, parent, children, local_delivery}});
  }
  const std::string id;
  ForwardingState state;
  LocalClients clients;
  std::unique_ptr<Relay> relay;
  std::string address;
  uint64_t version = 0;
};

// Sequences a local subscriber receives, until `want` arrived or the deadline.
std::vector<uint64_t> Receive(SubscriberQueue& q, uint64_t want) {
  std::vector<uint64_t> got;
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline && (got.empty() || got.back() < want)) {
    std::optional<DeliveryItem> item = q.Pop(absl::Milliseconds(100));
    if (item && item->frame) got.push_back(item->frame->header().sequence);
  }
  return got;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

class RelayRepairTest : public ::testing::Test {
 protected:
  // a (ingress) → b → c, where c joins b only after frames 51..100 passed.
  void Run(size_t a_ring, size_t b_ring) {
    a_ = std::make_unique<TestNode>("a", a_ring);
    b_ = std::make_unique<TestNode>("b", b_ring);
    c_ = std::make_unique<TestNode>("c", 64 << 20);
    sub_ = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20);
    c_->clients.AddSubscriber(sub_);
    // A subscriber at b shows when b has seen a frame.
    auto at_b = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20);
    b_->clients.AddSubscriber(at_b);

    a_->SetFlow("", {b_.get()}, false);
    b_->SetFlow("a", {c_.get()}, false);
    c_->SetFlow("b", {}, true);
    for (int i = 1; i <= 50; ++i) a_->relay->PublishLocal("g", "s", "m");
    ASSERT_EQ(Receive(*sub_, 50), Range(1, 50));
    ASSERT_EQ(Receive(*at_b, 50), Range(1, 50));

    // c leaves b's children; 51..100 pass b without reaching c.
    b_->SetFlow("a", {}, false);
    for (int i = 51; i <= 100; ++i) a_->relay->PublishLocal("g", "s", "m");
    ASSERT_EQ(Receive(*at_b, 100), Range(51, 100));
    // c comes back under b: on the new link it asks to resume after 50.
    b_->SetFlow("a", {c_.get()}, false);
    for (int i = 101; i <= 110; ++i) a_->relay->PublishLocal("g", "s", "m");
  }

  std::unique_ptr<TestNode> a_, b_, c_;
  std::shared_ptr<SubscriberQueue> sub_;
};

TEST_F(RelayRepairTest, NewParentServesFromItsOwnRing) {
  Run(64 << 20, 64 << 20);
  EXPECT_EQ(Receive(*sub_, 110), Range(51, 110));
  EXPECT_EQ(b_->relay->counters().sequences_lost, 0u);
}

TEST_F(RelayRepairTest, MissingRangeIsFetchedFromFurtherUp) {
  // b keeps only its newest frame; a keeps everything.
  Run(64 << 20, 1);
  EXPECT_EQ(Receive(*sub_, 110), Range(51, 110));
  EXPECT_GT(a_->relay->counters().frames_replayed, 0u);
  EXPECT_EQ(c_->relay->counters().sequences_lost, 0u);
}

TEST_F(RelayRepairTest, RangeNobodyHoldsIsAnExplicitGap) {
  // Neither a nor b keeps more than its newest frame.
  Run(1, 1);
  std::vector<uint64_t> got = Receive(*sub_, 110);
  ASSERT_FALSE(got.empty());
  // Whatever arrives is in order, without duplicates, ends at 110, and the
  // jump is declared (counted as lost), not silent.
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
  EXPECT_EQ(got.back(), 110u);
  const uint64_t missing = 60 - got.size();
  EXPECT_GT(missing, 0u);
  EXPECT_EQ(c_->relay->counters().sequences_lost, missing);
}

TEST(RelayParentTest, OnlyTheFlowsParentMayFeedIt) {
  TestNode a("a", 64 << 20), mallory("mallory", 64 << 20), c("c", 64 << 20);
  auto sub = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20);
  c.clients.AddSubscriber(sub);
  c.SetFlow("a", {}, true);
  // mallory believes (or pretends) it feeds c; the same ids, the next
  // sequences. Nothing of it may reach c's subscriber.
  mallory.SetFlow("", {&c}, false);
  for (int i = 1; i <= 20; ++i) mallory.relay->PublishLocal("g", "s", "forged");
  a.SetFlow("", {&c}, false);
  for (int i = 1; i <= 30; ++i) a.relay->PublishLocal("g", "s", "real");
  std::vector<uint64_t> got;
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline && (got.empty() || got.back() < 30)) {
    std::optional<DeliveryItem> item = sub->Pop(absl::Milliseconds(100));
    if (!item || !item->frame) continue;
    EXPECT_EQ(item->frame->payload(), "real");
    got.push_back(item->frame->header().sequence);
  }
  EXPECT_EQ(got, Range(1, 30));
  // mallory's link may still be delivering: wait for all 20 to be refused.
  const absl::Time counted_by = absl::Now() + kWait;
  while (c.relay->counters().not_from_parent_dropped < 20 && absl::Now() < counted_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(c.relay->counters().not_from_parent_dropped, 20u);
  EXPECT_TRUE(sub->Pop(absl::ZeroDuration()) == std::nullopt);
}

TEST(RelayParentTest, ResumeBeforeTheParentsTableNamesTheChildIsServedOnceItDoes) {
  // Tables reach nodes in any order. Flow g keeps a link a → c up; flow h
  // runs a → b → c until b goes. c learns first that a is now h's parent
  // and asks a to resume h after 50, while a's table still feeds h to b.
  TestNode a("a", 64 << 20), b("b", 64 << 20), c("c", 64 << 20);
  auto sub_g = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20);
  auto sub_h = std::make_shared<SubscriberQueue>("h", v1::SourceFilter(), 64 << 20, 16 << 20);
  c.clients.AddSubscriber(sub_g);
  c.clients.AddSubscriber(sub_h);
  using Flow = TestNode::Flow;
  c.SetFlows({Flow{"g", 1, "a", {}, true}, Flow{"h", 2, "b", {}, true}});
  b.SetFlows({Flow{"h", 2, "a", {&c}, false}});
  a.SetFlows({Flow{"g", 1, "", {&c}, false}, Flow{"h", 2, "", {&b}, false}});
  a.relay->PublishLocal("g", "s", "m");
  ASSERT_EQ(Receive(*sub_g, 1), Range(1, 1));
  for (int i = 1; i <= 50; ++i) a.relay->PublishLocal("h", "s", "m");
  ASSERT_EQ(Receive(*sub_h, 50), Range(1, 50));

  b.relay->Stop();
  for (int i = 51; i <= 60; ++i) a.relay->PublishLocal("h", "s", "m");
  c.SetFlows({Flow{"g", 1, "a", {}, true}, Flow{"h", 2, "a", {}, true}});
  const absl::Time deadline = absl::Now() + kWait;
  while (a.relay->counters().resumes_held == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(a.relay->counters().resumes_held, 1u) << "c's RESUME never reached a";
  EXPECT_EQ(a.relay->counters().not_from_parent_dropped, 0u);

  a.SetFlows({Flow{"g", 1, "", {&c}, false}, Flow{"h", 2, "", {&c}, false}});
  EXPECT_EQ(Receive(*sub_h, 60), Range(51, 60));
  EXPECT_EQ(c.relay->counters().sequences_lost, 0u);
}

TEST(RelayParentTest, AFlowThatLeavesAndReturnsToTheTableAsksForWhatItsParentKept) {
  // A controller restart in a bad order: for a moment the tables name no
  // receiver of h, so a keeps h's next frames in its ring only and b's
  // table drops h; then both tables name a → b again, over the link that
  // flow g kept up. Nothing new is published after that: only b's asking
  // brings it the frames a kept.
  TestNode a("a", 64 << 20), b("b", 64 << 20);
  auto sub_g = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20);
  auto sub_h = std::make_shared<SubscriberQueue>("h", v1::SourceFilter(), 64 << 20, 16 << 20);
  b.clients.AddSubscriber(sub_g);
  b.clients.AddSubscriber(sub_h);
  using Flow = TestNode::Flow;
  b.SetFlows({Flow{"g", 1, "a", {}, true}, Flow{"h", 2, "a", {}, true}});
  a.SetFlows({Flow{"g", 1, "", {&b}, false}, Flow{"h", 2, "", {&b}, false}});
  a.relay->PublishLocal("g", "s", "m");
  ASSERT_EQ(Receive(*sub_g, 1), Range(1, 1));
  for (int i = 1; i <= 50; ++i) a.relay->PublishLocal("h", "s", "m");
  ASSERT_EQ(Receive(*sub_h, 50), Range(1, 50));

  b.SetFlows({Flow{"g", 1, "a", {}, true}});
  a.SetFlows({Flow{"g", 1, "", {&b}, false}, Flow{"h", 2, "", {}, false}});
  for (int i = 51; i <= 60; ++i) a.relay->PublishLocal("h", "s", "m");
  a.SetFlows({Flow{"g", 1, "", {&b}, false}, Flow{"h", 2, "", {&b}, false}});
  b.SetFlows({Flow{"g", 1, "a", {}, true}, Flow{"h", 2, "a", {}, true}});
  EXPECT_EQ(Receive(*sub_h, 60), Range(51, 60));
  EXPECT_EQ(b.relay->counters().sequences_lost, 0u);
}

TEST(RelayAckTest, SummariesTravelUpTheTreeAndOnlyFromTheFlowsChildren) {
  // Flow g runs a → b → c with a receiver at b and at c. mallory, a child
  // of a for flow h only, claims a as its parent for g and acknowledges
  // g's object: a must not count that.
  TestNode a("a", 64 << 20), b("b", 64 << 20), c("c", 64 << 20), mallory("mallory", 64 << 20);
  auto at_b = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20, "wb");
  auto at_c = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20, "wc");
  auto at_m = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 64 << 20, 16 << 20, "wm");
  b.clients.AddSubscriber(at_b);
  c.clients.AddSubscriber(at_c);
  mallory.clients.AddSubscriber(at_m);
  using Flow = TestNode::Flow;
  c.SetFlows({Flow{"g", 1, "b", {}, true}});
  b.SetFlows({Flow{"g", 1, "a", {&c}, true}});
  mallory.SetFlows({Flow{"g", 1, "a", {}, true}, Flow{"h", 2, "a", {}, false}});
  a.SetFlows({Flow{"g", 1, "", {&b}, false}, Flow{"h", 2, "", {&mallory}, false}});

  absl::Mutex mu;
  std::vector<wire::AckSummary> seen;
  const uint64_t watch = a.relay->acks().Watch("g", "s", [&](const wire::AckSummary& s) {
    absl::MutexLock lock(&mu);
    seen.push_back(s);
  });
  // The links are up once a frame of each flow went through.
  a.relay->PublishLocal("g", "s", "m");
  a.relay->PublishLocal("h", "s", "m");
  ASSERT_EQ(Receive(*at_c, 1), Range(1, 1));
  ASSERT_EQ(Receive(*at_b, 1), Range(1, 1));

  ASSERT_TRUE(mallory.relay->acks().OnLocalAck(*at_m, 1, 1, 42).ok());
  ASSERT_TRUE(c.relay->acks().OnLocalAck(*at_c, 1, 1, 42).ok());
  ASSERT_TRUE(b.relay->acks().OnLocalAck(*at_b, 1, 1, 42).ok());
  auto held_by_both = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !seen.empty() && seen.back().object_id == 42 && seen.back().acked >= 2;
  };
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&held_by_both), kWait));
    EXPECT_EQ(seen.back().receivers, 2u);
    EXPECT_EQ(seen.back().acked, 2u);
    EXPECT_EQ(seen.back().missing, 0u);
  }
  // mallory's summaries go up again every 2 s; after one more round none
  // of them has counted. (The refusals are counted with its refused
  // RESUMEs, so the counter alone would not tell them apart.)
  const uint64_t refused = a.relay->counters().not_from_parent_dropped;
  const absl::Time deadline = absl::Now() + kWait;
  while (a.relay->counters().not_from_parent_dropped == refused && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  {
    absl::MutexLock lock(&mu);
    for (const wire::AckSummary& s : seen) {
      EXPECT_LE(s.acked, 2u);
      EXPECT_LE(s.receivers, 2u);
    }
  }
  a.relay->acks().Unwatch(watch);
}

TEST(HeldResumesTest, KeepsTheNewestPerPeerAndFlowAndIsBounded) {
  HeldResumes held(2);
  const absl::Time until = absl::Now();
  EXPECT_TRUE(held.Hold({{}, "c", wire::ResumeRequest{1, 1, 10, 0}, until}));
  EXPECT_TRUE(held.Hold({{}, "c", wire::ResumeRequest{1, 1, 20, 0}, until}));
  EXPECT_TRUE(held.Hold({{}, "d", wire::ResumeRequest{1, 1, 5, 0}, until}));
  EXPECT_FALSE(held.Hold({{}, "e", wire::ResumeRequest{1, 1, 5, 0}, until}));
  std::vector<HeldResumes::Held> taken = held.TakeAll();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].peer, "c");
  EXPECT_EQ(taken[0].request.after, 20u);
  EXPECT_EQ(taken[1].peer, "d");
  EXPECT_EQ(held.size(), 0u);
}

}  // namespace
}  // namespace canopy::node
