#include "node/subscriber_queue.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "wire/frame.h"

namespace canopy::node {
namespace {

// A data frame of `payload_bytes` bytes with sequence `seq`.
DeliveryItem Message(uint64_t seq, size_t payload_bytes = 100) {
  DeliveryItem item;
  item.frame =
      wire::Frame::Make(wire::FrameType::kData, 1, 1, seq, std::string(payload_bytes, 'x'));
  item.names = std::make_shared<const FlowNames>(FlowNames{"g", "s"});
  return item;
}

size_t FrameBytes(size_t payload_bytes) { return Message(0, payload_bytes).frame->bytes().size(); }

v1::SourceFilter Everyone() {
  v1::SourceFilter filter;
  filter.set_mode(v1::FILTER_MODE_EXCLUDE);
  return filter;
}

TEST(SubscriberQueueTest, DeliversInOrderAndCountsWhatTheSubscriberTook) {
  SubscriberQueue queue("g", Everyone(), 1 << 20, 1 << 19);
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(queue.Push(Message(seq)));
  EXPECT_EQ(queue.QueuedBytes(), 3 * FrameBytes(100));
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    std::optional<DeliveryItem> item = queue.Pop(absl::Seconds(1));
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->frame->header().sequence, seq);
  }
  EXPECT_EQ(queue.QueuedBytes(), 0u);
  EXPECT_EQ(queue.TakenBytes(), 3 * FrameBytes(100));
  EXPECT_FALSE(queue.Pop(absl::Milliseconds(1)).has_value()) << "empty: Pop times out";
}

TEST(SubscriberQueueTest, FullQueueSignalsBackPressureUntilDrainedToTheLowWatermark) {
  const size_t frame = FrameBytes(1000);
  SubscriberQueue queue("g", Everyone(), 4 * frame, 2 * frame);
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(queue.Push(Message(seq, 1000)));
  EXPECT_TRUE(queue.OverHighWatermark());
  bool drained = false;
  queue.NotifyWhenDrained([&] { drained = true; });
  EXPECT_FALSE(drained);
  ASSERT_TRUE(queue.Pop(absl::Seconds(1)).has_value());
  ASSERT_TRUE(queue.Pop(absl::Seconds(1)).has_value());
  EXPECT_FALSE(drained) << "3 frames queued: above the low watermark";
  ASSERT_TRUE(queue.Pop(absl::Seconds(1)).has_value());
  EXPECT_TRUE(drained) << "2 frames queued: at the low watermark";
  EXPECT_FALSE(queue.OverHighWatermark());
  bool at_once = false;
  queue.NotifyWhenDrained([&] { at_once = true; });
  EXPECT_TRUE(at_once) << "already drained: runs at once";
}

TEST(SubscriberQueueTest, RealtimeDropsTheOldestToStayWithinTheHighWatermark) {
  const size_t frame = FrameBytes(1000);
  SubscriberQueue queue("g", Everyone(), 3 * frame, frame);
  for (uint64_t seq = 1; seq <= 10; ++seq)
    ASSERT_TRUE(queue.PushDroppingOldest(Message(seq, 1000)));
  EXPECT_EQ(queue.dropped(), 7u);
  EXPECT_LE(queue.QueuedBytes(), 3 * frame);
  for (uint64_t seq = 8; seq <= 10; ++seq) {
    std::optional<DeliveryItem> item = queue.Pop(absl::Seconds(1));
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->frame->header().sequence, seq) << "the newest are kept, in order";
  }
}

TEST(SubscriberQueueTest, CloseWakesAWaitingReaderRefusesPushesAndSaysWhy) {
  SubscriberQueue queue("g", Everyone(), 1 << 20, 1 << 19);
  ASSERT_TRUE(queue.Push(Message(1)));
  absl::Notification popped;
  std::optional<DeliveryItem> first, second;
  std::thread reader([&] {
    first = queue.Pop(absl::Seconds(30));
    second = queue.Pop(absl::Seconds(30));  // blocks until Close
    popped.Notify();
  });
  // The reader takes the first item, then waits; Close must end that wait
  // long before its 30 s timeout.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (queue.TakenBytes() == 0 && absl::Now() < deadline) std::this_thread::yield();
  EXPECT_GT(queue.TakenBytes(), 0u);
  queue.Close(absl::ResourceExhaustedError("too slow"));
  EXPECT_TRUE(popped.WaitForNotificationWithTimeout(absl::Seconds(10)));
  reader.join();
  EXPECT_TRUE(first.has_value());
  EXPECT_FALSE(second.has_value());
  EXPECT_TRUE(queue.closed());
  EXPECT_EQ(queue.closed_status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(queue.Push(Message(2)));
  bool drained = false;
  queue.NotifyWhenDrained([&] { drained = true; });
  EXPECT_TRUE(drained) << "a closed queue never holds a sender back";
}

TEST(SubscriberQueueTest, JoinedEventComesFirstAndCutOffsAreToldOnceEach) {
  SubscriberQueue queue("g", Everyone(), 1 << 20, 1 << 19);
  queue.SetCutOff({{"s1", "no path"}});  // before the join: only remembered
  ASSERT_TRUE(queue.Push(Message(1)));
  queue.MarkJoined();
  queue.MarkJoined();  // idempotent
  EXPECT_TRUE(queue.joined());

  std::optional<DeliveryItem> joined = queue.Pop(absl::Seconds(1));
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->frame, nullptr);
  EXPECT_EQ(joined->status, nullptr) << "the joined event carries no source status";
  std::optional<DeliveryItem> message = queue.Pop(absl::Seconds(1));
  ASSERT_TRUE(message.has_value());
  ASSERT_NE(message->frame, nullptr) << "messages queued before the join keep their place";
  std::optional<DeliveryItem> cut = queue.Pop(absl::Seconds(1));
  ASSERT_TRUE(cut.has_value());
  ASSERT_NE(cut->status, nullptr);
  EXPECT_EQ(cut->status->source(), "s1");
  EXPECT_FALSE(cut->status->reachable());
  EXPECT_EQ(cut->status->reason(), "no path");

  queue.SetCutOff({{"s1", "no path"}});  // unchanged: nothing new to tell
  EXPECT_FALSE(queue.Pop(absl::Milliseconds(1)).has_value());
  queue.SetCutOff({});  // s1 reachable again: told once
  std::optional<DeliveryItem> back = queue.Pop(absl::Seconds(1));
  ASSERT_TRUE(back.has_value());
  ASSERT_NE(back->status, nullptr);
  EXPECT_EQ(back->status->source(), "s1");
  EXPECT_TRUE(back->status->reachable());
  EXPECT_FALSE(queue.Pop(absl::Milliseconds(1)).has_value());
}

TEST(SubscriberQueueTest, PopBatchTakesWhatIsQueuedUpToItsLimits) {
  SubscriberQueue queue("g", Everyone(), 1 << 20, 1 << 19);
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(queue.Push(Message(seq, 1000)));
  EXPECT_EQ(queue.PopBatch(absl::Seconds(1), 4, 1 << 20).size(), 4u) << "item limit";
  EXPECT_EQ(queue.PopBatch(absl::Seconds(1), 100, 2 * FrameBytes(1000)).size(), 2u) << "byte limit";
  EXPECT_EQ(queue.PopBatch(absl::Seconds(1), 100, 1).size(), 1u) << "at least one";
  EXPECT_EQ(queue.PopBatch(absl::Seconds(1), 100, 1 << 20).size(), 3u) << "the rest";
  EXPECT_TRUE(queue.PopBatch(absl::Milliseconds(1), 100, 1 << 20).empty());
}

}  // namespace
}  // namespace canopy::node
