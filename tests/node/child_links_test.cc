// ChildLinks on fake links and virtual time: links open with the table,
// come back after a failure while the table names the child, and back
// pressure ends when receivers drain or detaches those that stopped
// draining, whose links come back after a backoff.

#include "node/child_links.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/node/fakes.h"

namespace canopy::node {
namespace {

using testing::FakeLink;
using testing::ManualScheduler;

v1::Hop Hop(const std::string& id, const std::string& address = "127.0.0.1:7000") {
  v1::Hop hop;
  hop.set_node_id(id);
  hop.set_data_address(address);
  return hop;
}

class ChildLinksTest : public ::testing::Test {
 protected:
  ChildLinksTest()
      : links_(
            ChildLinksOptions{absl::Seconds(5), absl::Milliseconds(250)}, scheduler_,
            [this](const std::string& id, const wire::Endpoint& address, wire::ControlHandler,
                   std::function<void(const absl::Status&)> on_closed) {
              auto link = std::make_shared<FakeLink>(id, address);
              opened_.push_back(link);
              closers_.push_back(std::move(on_closed));
              return link;
            },
            nullptr) {}

  ManualScheduler scheduler_;
  std::vector<std::shared_ptr<FakeLink>> opened_;
  std::vector<std::function<void(const absl::Status&)>> closers_;
  ChildLinks links_;
};

TEST_F(ChildLinksTest, OneLinkPerChildSharedByEveryFlow) {
  std::shared_ptr<ChildSlot> a = links_.Slot(Hop("c"));
  std::shared_ptr<ChildSlot> b = links_.Slot(Hop("c"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(opened_.size(), 1u);
  // A child at a new address gets a new link; the old one closes.
  links_.Slot(Hop("c", "127.0.0.1:7001"));
  ASSERT_EQ(opened_.size(), 2u);
  EXPECT_TRUE(opened_[0]->closed());
  EXPECT_EQ(a->link(), opened_[1]);
  EXPECT_EQ(links_.Slot(Hop("x", "no port")), nullptr);
}

TEST_F(ChildLinksTest, FailedLinkComesBackWhileTheTableNamesTheChild) {
  std::shared_ptr<ChildSlot> slot = links_.Slot(Hop("c"));
  opened_[0]->Close();
  closers_[0](absl::UnavailableError("connection refused"));
  scheduler_.Advance(absl::Milliseconds(249));
  EXPECT_EQ(opened_.size(), 1u);
  scheduler_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(opened_.size(), 2u);
  EXPECT_EQ(slot->link(), opened_[1]);

  // Once the table drops the child, a failure is final.
  EXPECT_EQ(links_.Retain({}), std::vector<std::string>{"c"});
  EXPECT_TRUE(opened_[1]->closed());
  closers_[1](absl::UnavailableError("closed"));
  scheduler_.Advance(absl::Seconds(1));
  EXPECT_EQ(opened_.size(), 2u);
}

TEST_F(ChildLinksTest, BackPressureEndsWhenEveryReceiverDrained) {
  links_.Slot(Hop("c1"));
  links_.Slot(Hop("c2"));
  opened_[0]->SetFull(true);
  opened_[1]->SetFull(true);
  auto subscriber = std::make_shared<SubscriberQueue>("g", v1::SourceFilter(), 10, 5);
  subscriber->Push(DeliveryItem{wire::Frame::Make(wire::FrameType::kData, 1, 1, 1, "0123456789ab"),
                                std::make_shared<const FlowNames>(FlowNames{"g", "s"})});
  ASSERT_TRUE(subscriber->OverHighWatermark());
  int done = 0;
  links_.AwaitDrain(Pressure{{opened_[0], opened_[1]}, {subscriber}}, [&] { ++done; });
  opened_[0]->SetFull(false);
  opened_[1]->SetFull(false);
  EXPECT_EQ(done, 0);
  ASSERT_TRUE(subscriber->Pop(absl::ZeroDuration()));  // the subscriber reads
  EXPECT_EQ(done, 1);
  scheduler_.Advance(absl::Seconds(10));  // the deadline passes: nothing more
  EXPECT_EQ(done, 1);
  EXPECT_FALSE(opened_[0]->closed());
  EXPECT_FALSE(subscriber->closed());
}

TEST_F(ChildLinksTest, ReceiversStillFullAtTheDeadlineAreDetached) {
  links_.Slot(Hop("slow"));
  links_.Slot(Hop("fast"));
  opened_[0]->SetFull(true);
  opened_[1]->SetFull(true);
  int done = 0;
  links_.AwaitDrain(Pressure{{opened_[0], opened_[1]}, {}}, [&] { ++done; });
  opened_[1]->SetFull(false);
  scheduler_.Advance(absl::Milliseconds(4999));
  EXPECT_EQ(done, 0);
  scheduler_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(opened_[0]->closed());   // the laggard
  EXPECT_FALSE(opened_[1]->closed());  // the one that drained

  // The laggard's link comes back after a backoff, so the child can resume
  // (and be told what is gone); a second detach in a row waits twice as
  // long.
  scheduler_.Advance(absl::Milliseconds(4999));
  ASSERT_EQ(opened_.size(), 2u);
  scheduler_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(opened_.size(), 3u);
  EXPECT_EQ(opened_[2]->peer_node(), "slow");
  opened_[2]->SetFull(true);
  links_.AwaitDrain(Pressure{{opened_[2]}, {}}, [&] { ++done; });
  scheduler_.Advance(absl::Seconds(5));
  EXPECT_TRUE(opened_[2]->closed());
  EXPECT_EQ(done, 2);
  scheduler_.Advance(absl::Milliseconds(9999));
  EXPECT_EQ(opened_.size(), 3u);
  scheduler_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(opened_.size(), 4u);
}

TEST_F(ChildLinksTest, AFullLinkThatStillDrainsIsWaitedFor) {
  // A child catching up over a slow link (a late joiner's replay) keeps
  // its link full for longer than detach_after while it takes every byte
  // it can: it is not cut off.
  links_.Slot(Hop("catching-up"));
  opened_[0]->SetFull(true);
  int done = 0;
  links_.AwaitDrain(Pressure{{opened_[0]}, {}}, [&] { ++done; });
  for (int window = 0; window < 4; ++window) {
    opened_[0]->Write(1u << 20);
    scheduler_.Advance(absl::Seconds(5));
    EXPECT_FALSE(opened_[0]->closed()) << "window " << window;
    EXPECT_EQ(done, 0);
  }
  // It drains: the sender goes on.
  opened_[0]->SetFull(false);
  EXPECT_EQ(done, 1);
  EXPECT_FALSE(opened_[0]->closed());

  // Full again, and now it stops reading: detached at the next look.
  opened_[0]->SetFull(true);
  links_.AwaitDrain(Pressure{{opened_[0]}, {}}, [&] { ++done; });
  opened_[0]->Write(1u << 20);
  scheduler_.Advance(absl::Seconds(5));
  EXPECT_FALSE(opened_[0]->closed());
  scheduler_.Advance(absl::Seconds(5));
  EXPECT_TRUE(opened_[0]->closed());
  EXPECT_EQ(done, 2);
}

}  // namespace
}  // namespace canopy::node
