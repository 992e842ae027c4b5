// AckAggregator on virtual time: what a node sends its parent (one
// coalesced ACK_SUMMARY per object, at once when it is final), and what a
// flow's root hands its publishers.

#include "node/ack_aggregator.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/node/fakes.h"
#include "wire/ack_frames.h"

namespace canopy::node {
namespace {

using testing::FakeLink;
using testing::ManualScheduler;
using wire::AckSummary;

constexpr uint32_t kHandle = 7;
constexpr uint32_t kSourceId = 3;

class AggregatorTest : public ::testing::Test {
 protected:
  // This node: receivers w1 and w2 of group "g", a subscriber without a
  // member name, child "c", parent `parent` ("" = the flow's root).
  void Build(const std::string& parent) {
    auto route = std::make_shared<FlowRoute>();
    route->entry.set_group_handle(kHandle);
    route->entry.set_source_id(kSourceId);
    route->entry.set_parent(parent);
    route->entry.set_parent_token("tok");
    route->names = std::make_shared<const FlowNames>(FlowNames{"g", "s"});
    route->children.push_back({std::make_shared<ChildSlot>("c"), false});
    route->subscribers = std::make_shared<GroupSubscribers>();
    // "" is a subscriber that cannot acknowledge, as a gateway's.
    for (const char* member : {"w1", "w2", ""}) {
      subscribers_.push_back(std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 1 << 20,
                                                               1 << 19, member));
    }
    route->subscribers->Store(std::make_shared<const GroupSubscribers::List>(subscribers_));
    auto table = std::make_shared<FlowTable>();
    table->Add(route);
    table_ = table;
    parents_.Register(parent, "tok", parent_link_);
    aggregator_ = std::make_unique<AckAggregator>(AckAggregatorOptions{}, "b", scheduler_,
                                                  parents_, [this] { return table_; });
  }

  const FlowRoute& route() const { return *table_->Find(kHandle, kSourceId); }

  // The summaries the parent link carried, in order.
  std::vector<AckSummary> Sent() const {
    std::vector<AckSummary> out;
    for (const wire::FramePtr& f : parent_link_->sent()) {
      EXPECT_EQ(f->header().type, wire::FrameType::kAckSummary);
      EXPECT_EQ(f->header().group_handle, kHandle);
      EXPECT_EQ(f->header().source_id, kSourceId);
      absl::StatusOr<AckSummary> s = wire::ParseAckSummary(*f);
      EXPECT_TRUE(s.ok()) << s.status();
      if (s.ok()) out.push_back(*s);
    }
    return out;
  }

  AckSummary ChildSays(uint64_t object_id, uint32_t receivers, uint32_t acked) {
    AckSummary s;
    s.object_id = object_id;
    s.receivers = receivers;
    s.acked = acked;
    s.missing = receivers - acked;
    return s;
  }

  ManualScheduler scheduler_;
  ParentLinks parents_;
  std::shared_ptr<FakeLink> parent_link_ = std::make_shared<FakeLink>("a");
  std::vector<std::shared_ptr<SubscriberQueue>> subscribers_;
  std::shared_ptr<const FlowTable> table_;
  std::unique_ptr<AckAggregator> aggregator_;
};

TEST_F(AggregatorTest, ChangesWithinTheDelayGoUpAsOneSummary) {
  Build("a");
  aggregator_->Tick();  // the roster goes up
  std::vector<AckSummary> sent = Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].object_id, 0u);
  EXPECT_EQ(sent[0].receivers, 2u) << "the unnamed subscriber is not counted";
  EXPECT_EQ(sent[0].missing, 3u);  // w1, w2 and the silent child c

  aggregator_->OnChildSummary(route(), "c", ChildSays(0, 5, 0));  // goes at once
  ASSERT_EQ(Sent().size(), 2u);
  EXPECT_EQ(Sent()[1].receivers, 7u);
  ASSERT_TRUE(aggregator_->OnLocalAck(*subscribers_[0], kHandle, kSourceId, 42).ok());
  aggregator_->OnChildSummary(route(), "c", ChildSays(42, 5, 4));
  EXPECT_EQ(Sent().size(), 2u) << "nothing more before the coalescing delay";
  scheduler_.Advance(absl::Milliseconds(60));
  sent = Sent();
  ASSERT_EQ(sent.size(), 3u);  // object 42, once
  const AckSummary& s = sent[2];
  EXPECT_EQ(s.object_id, 42u);
  EXPECT_EQ(s.receivers, 7u);
  EXPECT_EQ(s.acked, 5u);
  EXPECT_EQ(s.missing, 2u);
}

TEST_F(AggregatorTest, FinalSummaryGoesAtOnceAndUnchangedOnesNotAgain) {
  Build("a");
  aggregator_->Tick();
  aggregator_->OnChildSummary(route(), "c", ChildSays(42, 1, 1));
  ASSERT_TRUE(aggregator_->OnLocalAck(*subscribers_[0], kHandle, kSourceId, 42).ok());
  const size_t before = Sent().size();
  ASSERT_TRUE(aggregator_->OnLocalAck(*subscribers_[1], kHandle, kSourceId, 42).ok());
  std::vector<AckSummary> sent = Sent();
  ASSERT_EQ(sent.size(), before + 1) << "every receiver below holds it: no delay";
  EXPECT_EQ(sent.back().object_id, 42u);
  EXPECT_EQ(sent.back().acked, 3u);
  EXPECT_EQ(sent.back().missing, 0u);
  scheduler_.Advance(absl::Milliseconds(60));
  aggregator_->Tick();
  for (size_t i = before + 1; i < Sent().size(); ++i) {
    EXPECT_NE(Sent()[i].object_id, 42u) << "sent again unchanged";
  }
}

TEST_F(AggregatorTest, RootHandsTotalsToWatchersOfTheFlowOnly) {
  Build("");
  std::vector<AckSummary> seen, other;
  aggregator_->Watch("g", "s", [&](const AckSummary& s) { seen.push_back(s); });
  aggregator_->Watch("g", "other", [&](const AckSummary& s) { other.push_back(s); });
  aggregator_->Tick();
  ASSERT_TRUE(aggregator_->OnLocalAck(*subscribers_[0], kHandle, kSourceId, 42).ok());
  scheduler_.Advance(absl::Milliseconds(60));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().object_id, 42u);
  EXPECT_EQ(seen.back().acked, 1u);
  EXPECT_TRUE(other.empty());
  EXPECT_TRUE(parent_link_->sent().empty());
}

TEST_F(AggregatorTest, AckOfAnotherGroupOrObjectZeroIsRefused) {
  Build("a");
  SubscriberQueue stranger("other-group", v1::SourceFilter(), 1 << 20, 1 << 19, "x");
  EXPECT_FALSE(aggregator_->OnLocalAck(stranger, kHandle, kSourceId, 42).ok());
  EXPECT_FALSE(aggregator_->OnLocalAck(*subscribers_[0], kHandle, kSourceId, 0).ok());
  // A flow this node does not carry: ignored.
  EXPECT_TRUE(aggregator_->OnLocalAck(*subscribers_[0], kHandle, kSourceId + 1, 42).ok());
}

}  // namespace
}  // namespace canopy::node
