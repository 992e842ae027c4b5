// FanOut on fake links: one shared frame to every child and admitted
// subscriber; `reliable` receivers push back, `realtime` ones drop their
// own oldest; fault injection touches only what local subscribers get.

#include "node/fan_out.h"

#include <memory>

#include "gtest/gtest.h"
#include "tests/node/fakes.h"

namespace canopy::node {
namespace {

using testing::FakeLink;
using testing::ManualScheduler;

class FanOutTest : public ::testing::Test {
 protected:
  FanOutTest() : repair_(FlowRepairOptions{}, scheduler_, parents_, budget_, tally_) {
    route_.entry.set_group("g");
    route_.entry.set_source("trainer");
    route_.entry.set_group_handle(1);
    route_.entry.set_source_id(1);
    route_.names = std::make_shared<const FlowNames>(FlowNames{"g", "trainer"});
    route_.state = std::make_shared<FlowState>();
    route_.counters = &counters_.Cell("g");
    for (auto& link : {a_, b_}) {
      auto slot = std::make_shared<ChildSlot>(link->peer_node());
      slot->set_link(link);
      route_.children.push_back(FlowRoute::Child{slot, false});
    }
    route_.subscribers = std::make_shared<GroupSubscribers>();
  }
  void Subscribe(std::shared_ptr<SubscriberQueue> q) {
    auto list = std::make_shared<GroupSubscribers::List>(*route_.subscribers->Load());
    list->push_back(std::move(q));
    route_.subscribers->Store(std::move(list));
  }
  Pressure Send(FanOut& fan_out, uint64_t seq) {
    absl::MutexLock lock(&route_.state->mu);
    return fan_out.Dispatch(
        route_, wire::Frame::Make(wire::FrameType::kData, 1, 1, seq, "0123456789"), *route_.state);
  }

  ManualScheduler scheduler_;
  ParentLinks parents_;
  ReplayBudget budget_{64u << 20};
  RelayTally tally_;
  TrafficCounters counters_;
  FlowRepair repair_;
  FlowRoute route_;
  std::shared_ptr<FakeLink> a_ = std::make_shared<FakeLink>("a");
  std::shared_ptr<FakeLink> b_ = std::make_shared<FakeLink>("b");
};

TEST_F(FanOutTest, OneSharedFrameToEveryChildAndAdmittedSubscriber) {
  auto everyone = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 1 << 20, 1 << 19);
  v1::SourceFilter only_eval;
  only_eval.set_mode(v1::FILTER_MODE_INCLUDE);
  only_eval.add_sources("eval");
  auto eval_only = std::make_shared<SubscriberQueue>("g", only_eval, 1 << 20, 1 << 19);
  Subscribe(everyone);
  Subscribe(eval_only);
  FanOut fan_out(nullptr, nullptr, repair_, budget_, tally_, scheduler_);
  EXPECT_TRUE(Send(fan_out, 1).empty());
  ASSERT_EQ(a_->sent().size(), 1u);
  EXPECT_EQ(a_->sent()[0], b_->sent()[0]);  // the same buffer, not a copy
  std::optional<DeliveryItem> got = everyone->Pop(absl::ZeroDuration());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, a_->sent()[0]);
  EXPECT_FALSE(eval_only->Pop(absl::ZeroDuration()));
  EXPECT_EQ(counters_.Take().groups["g"].frames_out, 3u);
  absl::MutexLock lock(&route_.state->mu);
  EXPECT_NE(route_.state->ring.Get(1), nullptr);  // kept for repairs
}

TEST_F(FanOutTest, ReliableChildrenPushBackRealtimeOnesDropTheirOldest) {
  FanOut fan_out(nullptr, nullptr, repair_, budget_, tally_, scheduler_);
  a_->SetFull(true);
  Pressure pressure = Send(fan_out, 1);
  ASSERT_EQ(pressure.links.size(), 1u);
  EXPECT_EQ(pressure.links[0], a_);
  route_.realtime = true;
  EXPECT_TRUE(Send(fan_out, 2).empty());
  EXPECT_EQ(a_->dropped_frames(), 1u);
  EXPECT_EQ(counters_.Take().groups["g"].drops[static_cast<size_t>(DropReason::kRealtimeOverflow)],
            1u);
}

TEST_F(FanOutTest, FaultInjectionDamagesOnlyWhatLocalSubscribersGet) {
  auto subscriber = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 1 << 20, 1 << 19);
  Subscribe(subscriber);
  FaultInjector faults(2);
  FanOut fan_out(nullptr, &faults, repair_, budget_, tally_, scheduler_);
  Send(fan_out, 1);
  Send(fan_out, 2);
  std::optional<DeliveryItem> first = subscriber->Pop(absl::ZeroDuration());
  std::optional<DeliveryItem> second = subscriber->Pop(absl::ZeroDuration());
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->frame->payload(), "0123456789");
  EXPECT_NE(second->frame->payload(), "0123456789");  // every 2nd is damaged
  EXPECT_EQ(a_->sent()[1]->payload(), "0123456789");  // children get it intact
  absl::MutexLock lock(&route_.state->mu);
  EXPECT_EQ(route_.state->ring.Get(2)->payload(), "0123456789");
}

}  // namespace
}  // namespace canopy::node
