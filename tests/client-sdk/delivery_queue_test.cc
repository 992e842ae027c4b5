// The subscriber's delivery queue: each sequence handed out once, gaps
// counted, resends only when asked for, back pressure when full, and the
// end of a subscription after what was already queued.

#include "src/delivery_queue.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace canopy {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

TEST(DeliveryQueueTest, GapsAreCountedAndDuplicatesDropped) {
  DeliveryQueue q("g");
  EXPECT_TRUE(q.Push("s", 1, "a"));
  EXPECT_TRUE(q.Push("s", 4, "d"));  // 2 and 3 never came
  EXPECT_TRUE(q.Push("s", 4, "d"));  // again, unasked
  EXPECT_TRUE(q.Push("s", 2, "b"));  // late, unasked
  EXPECT_TRUE(q.Push("t", 7, "x"));  // another source: its first message
  auto m = q.Next(kWait);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sequence, 1u);
  EXPECT_EQ(m->missed_before, 0u);
  m = q.Next(kWait);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sequence, 4u);
  EXPECT_EQ(m->missed_before, 2u);
  m = q.Next(kWait);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->source, "t");
  EXPECT_EQ(m->missed_before, 0u);
  EXPECT_EQ(q.duplicates_dropped(), 2u);
  EXPECT_TRUE(absl::IsDeadlineExceeded(q.Next(absl::Milliseconds(1)).status()));
}

TEST(DeliveryQueueTest, ResendsAreHandedOutOnlyWhenAskedFor) {
  DeliveryQueue q("g");
  for (uint64_t s = 1; s <= 5; ++s) ASSERT_TRUE(q.Push("s", s, std::to_string(s)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Next(kWait).ok());
  q.ExpectResend("s", 2, 3);
  ASSERT_TRUE(q.Push("s", 2, "2"));
  ASSERT_TRUE(q.Push("s", 3, "3"));
  ASSERT_TRUE(q.Push("s", 3, "3"));  // asked once, handed out once
  ASSERT_TRUE(q.Push("s", 4, "4"));  // not asked for
  for (uint64_t want : {2u, 3u}) {
    auto m = q.Next(kWait);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->sequence, want);
    EXPECT_TRUE(m->resent);
    EXPECT_EQ(m->missed_before, 0u);
  }
  EXPECT_TRUE(absl::IsDeadlineExceeded(q.Next(absl::Milliseconds(1)).status()));
  EXPECT_EQ(q.duplicates_dropped(), 2u);
}

TEST(DeliveryQueueTest, AFullQueuePushesBackUntilTheApplicationReads) {
  DeliveryQueue q("g");
  const std::string mib(1 << 20, 'x');
  std::atomic<uint64_t> pushed{0};
  std::thread receiver([&] {
    for (uint64_t s = 1; s <= 40; ++s) {
      if (!q.Push("s", s, mib)) return;
      pushed = s;
    }
  });
  // 16 MiB fit; the receiving thread then waits.
  const absl::Time deadline = absl::Now() + kWait;
  while (pushed < 16 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(pushed.load(), 16u);
  for (uint64_t s = 1; s <= 40; ++s) {
    auto m = q.Next(kWait);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->sequence, s);
  }
  receiver.join();
  EXPECT_EQ(pushed.load(), 40u);
}

TEST(DeliveryQueueTest, CloseUnblocksAWaitingPush) {
  DeliveryQueue q("g");
  const std::string mib(1 << 20, 'x');
  std::atomic<bool> refused{false};
  std::thread receiver([&] {
    for (uint64_t s = 1; s <= 40; ++s) {
      if (!q.Push("s", s, mib)) {
        refused = true;
        return;
      }
    }
  });
  q.Close();
  receiver.join();
  EXPECT_TRUE(refused.load());
}

TEST(DeliveryQueueTest, TheEndComesAfterWhatWasQueuedAndJoinIsReported) {
  DeliveryQueue q("g");
  EXPECT_TRUE(absl::IsDeadlineExceeded(q.WaitJoined(absl::Milliseconds(1))));
  q.MarkJoined();
  EXPECT_TRUE(q.WaitJoined(absl::ZeroDuration()).ok());
  ASSERT_TRUE(q.Push("s", 1, "last"));
  q.End(absl::ResourceExhaustedError("did not keep up"));
  q.End(absl::InternalError("ignored: only the first end counts"));
  auto m = q.Next(kWait);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->payload, "last");
  auto end = q.Next(kWait);
  EXPECT_TRUE(absl::IsResourceExhausted(end.status())) << end.status();
}

}  // namespace
}  // namespace canopy
