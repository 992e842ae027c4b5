// Slow receivers under the two policies: `realtime` drops for the laggard
// only; `reliable` pushes back, then detaches the laggard.

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

namespace canopy::testing {
namespace {

constexpr int kMessages = 1200;
constexpr size_t kMessageBytes = 64 << 10;  // 75 MiB in all: far more than queues hold

std::string Payload(int i) {
  std::string p = absl::StrFormat("%06d", i);
  p.resize(kMessageBytes, 'x');
  return p;
}

absl::Status SetProfile(Overlay& overlay, const std::string& group, v1::SlowReceiverPolicy slow) {
  grpc::ClientContext context;
  v1::GroupPolicy request, response;
  request.set_group(group);
  request.set_slow_receiver(slow);
  grpc::Status s = overlay.stub().SetPolicy(&context, request, &response);
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// Reads every message of `sub`, checking order; returns how many arrived.
int DrainInOrder(Subscriber& sub, int expected) {
  for (int i = 1; i <= expected; ++i) {
    auto m = sub.Next(kWait);
    if (!m.ok()) return i - 1;
    EXPECT_EQ(m->payload.substr(0, 6), absl::StrFormat("%06d", i));
    EXPECT_EQ(m->missed_before, 0u);
  }
  return expected;
}

TEST(SlowReceiverTest, RealtimeDropsOnlyForTheLaggard) {
  Overlay overlay;
  ASSERT_TRUE(SetProfile(overlay, "live", v1::SLOW_RECEIVER_REALTIME).ok());
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto stalled = Subscriber::Open({overlay.client_address("node-b"), "live"});
  auto sibling = Subscriber::Open({overlay.client_address("node-c"), "live"});
  ASSERT_TRUE(stalled.ok() && sibling.ok());
  ASSERT_TRUE((*stalled)->WaitJoined(kWait).ok());
  ASSERT_TRUE((*sibling)->WaitJoined(kWait).ok());

  auto pub = Publisher::Open({overlay.client_address("node-a"), "live", "camera"});
  ASSERT_TRUE(pub.ok());
  // A live source has a rate: 64 KiB every 2 ms (~0.25 Gbit/s), well within
  // what a relay path carries even on a busy machine. The sibling keeps up
  // with every message while the laggard reads nothing at all; the 75 MiB
  // sent are more than its queues hold, so it must lose some.
  std::thread reader([&] { EXPECT_EQ(DrainInOrder(**sibling, kMessages), kMessages); });
  const absl::Time start = absl::Now();
  for (int i = 1; i <= kMessages; ++i) {
    ASSERT_TRUE((*pub)->Send(Payload(i)).ok());
    absl::SleepFor(start + absl::Milliseconds(2 * i) - absl::Now());  // pacing, not waiting
  }
  auto summary = (*pub)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  reader.join();

  // The laggard now reads what was kept: fewer messages, the rest counted.
  uint64_t received = 0, missed = 0, last = 0;
  while (last < static_cast<uint64_t>(kMessages)) {
    auto m = (*stalled)->Next(kWait);
    ASSERT_TRUE(m.ok()) << m.status();
    ++received;
    missed += m->missed_before;
    EXPECT_GT(m->sequence, last);
    last = m->sequence;
  }
  EXPECT_LT(received, static_cast<uint64_t>(kMessages));
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(received + missed, static_cast<uint64_t>(kMessages)) << "every loss is counted";
}

TEST(SlowReceiverTest, ReliableDetachesAStuckSubscriberAndTheTreeKeepsFlowing) {
  Overlay overlay;
  overlay.StartNode("node-a", 0, {"--detach-after-ms", "20000"});
  overlay.StartNode("node-b", 0, {"--detach-after-ms", "300"});
  auto stuck = Subscriber::Open({overlay.client_address("node-b"), "ckpt"});
  auto healthy = Subscriber::Open({overlay.client_address("node-b"), "ckpt"});
  ASSERT_TRUE(stuck.ok() && healthy.ok());
  ASSERT_TRUE((*stuck)->WaitJoined(kWait).ok());
  ASSERT_TRUE((*healthy)->WaitJoined(kWait).ok());

  auto pub = Publisher::Open({overlay.client_address("node-a"), "ckpt", "trainer"});
  ASSERT_TRUE(pub.ok());
  std::thread reader([&] { EXPECT_EQ(DrainInOrder(**healthy, kMessages), kMessages); });
  for (int i = 1; i <= kMessages; ++i) ASSERT_TRUE((*pub)->Send(Payload(i)).ok());
  auto summary = (*pub)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->messages, static_cast<uint64_t>(kMessages));
  reader.join();

  // The stuck one was detached with a clear status after what it had.
  absl::Status end;
  for (int i = 0; i <= kMessages && end.ok(); ++i) end = (*stuck)->Next(kWait).status();
  EXPECT_EQ(end.code(), absl::StatusCode::kResourceExhausted) << end;
  EXPECT_THAT(std::string(end.message()), ::testing::HasSubstr("did not keep up"));
}

}  // namespace
}  // namespace canopy::testing
