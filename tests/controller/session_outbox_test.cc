#include "controller/session_outbox.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

v1::NodeInstruction Table(uint64_t version) {
  v1::NodeInstruction i;
  i.mutable_table()->set_version(version);
  return i;
}

v1::NodeInstruction Rejection(const std::string& source) {
  v1::NodeInstruction i;
  i.mutable_source_rejected()->mutable_key()->set_source(source);
  return i;
}

// A stream that records what it was asked to write and completes writes
// only when told.
struct FakeStream {
  std::vector<v1::NodeInstruction> started;
  int cancels = 0;
  void Bind(SessionOutbox& outbox) {
    outbox.Bind([this](const v1::NodeInstruction* i) { started.push_back(*i); },
                [this] { ++cancels; });
  }
};

TEST(SessionOutboxTest, WritesOneAtATimeInOrder) {
  SessionOutbox outbox({});
  FakeStream stream;
  stream.Bind(outbox);
  ASSERT_TRUE(outbox.Send(Rejection("x")));
  ASSERT_TRUE(outbox.Send(Rejection("y")));
  ASSERT_EQ(stream.started.size(), 1u);  // one write in flight
  EXPECT_EQ(outbox.Queued(), 2u);
  outbox.OnWriteDone(true);
  ASSERT_EQ(stream.started.size(), 2u);
  EXPECT_EQ(stream.started[1].source_rejected().key().source(), "y");
  outbox.OnWriteDone(true);
  EXPECT_EQ(outbox.Queued(), 0u);
  EXPECT_EQ(outbox.OldestQueued(), absl::InfiniteFuture());
}

TEST(SessionOutboxTest, NewerSnapshotReplacesAQueuedOneButNotTheOneInFlight) {
  SessionOutbox outbox({});
  FakeStream stream;
  stream.Bind(outbox);
  outbox.Send(Table(1));  // in flight
  outbox.Send(Table(2));
  outbox.Send(Rejection("x"));
  outbox.Send(Table(3));
  EXPECT_EQ(outbox.Queued(), 3u);  // v1 (in flight), the rejection, v3
  outbox.OnWriteDone(true);
  outbox.OnWriteDone(true);
  outbox.OnWriteDone(true);
  ASSERT_EQ(stream.started.size(), 3u);
  EXPECT_EQ(stream.started[0].table().version(), 1u);
  EXPECT_TRUE(stream.started[1].has_source_rejected());
  EXPECT_EQ(stream.started[2].table().version(), 3u);
}

TEST(SessionOutboxTest, OverflowClosesTheStreamInsteadOfGrowing) {
  SessionOutbox outbox({.max_bytes = 1u << 20, .max_instructions = 2});
  FakeStream stream;
  stream.Bind(outbox);
  EXPECT_TRUE(outbox.Send(Rejection("a")));
  EXPECT_TRUE(outbox.Send(Rejection("b")));
  EXPECT_FALSE(outbox.overflowed());
  EXPECT_FALSE(outbox.Send(Rejection("c")));
  EXPECT_TRUE(outbox.overflowed());
  EXPECT_EQ(stream.cancels, 1);
  EXPECT_FALSE(outbox.Send(Rejection("d")));  // closed for good
}

TEST(SessionOutboxTest, OldestQueuedTellsHowLongTheNodeHasNotRead) {
  absl::Time now = absl::FromUnixSeconds(1000);
  SessionOutbox outbox({}, [&now] { return now; });
  FakeStream stream;
  stream.Bind(outbox);
  outbox.Send(Rejection("a"));  // the node never completes this write
  now += absl::Seconds(3);
  outbox.Send(Rejection("b"));
  EXPECT_EQ(outbox.OldestQueued(), absl::FromUnixSeconds(1000));
  outbox.OnWriteDone(true);
  EXPECT_EQ(outbox.OldestQueued(), absl::FromUnixSeconds(1003));
}

TEST(SessionOutboxTest, BrokenOrUnboundStreamTakesNothingMore) {
  SessionOutbox outbox({});
  FakeStream stream;
  stream.Bind(outbox);
  outbox.Send(Rejection("a"));
  outbox.OnWriteDone(false);
  EXPECT_FALSE(outbox.Send(Rejection("b")));

  SessionOutbox other({});
  FakeStream second;
  second.Bind(other);
  other.Unbind();
  EXPECT_FALSE(other.Send(Rejection("a")));
  other.Close();  // after the stream is gone: nothing to cancel
  EXPECT_EQ(second.cancels, 0);
}

TEST(SessionOutboxTest, QueuedBeforeBindGoesOutOnBind) {
  SessionOutbox outbox({});
  outbox.Send(Rejection("a"));
  FakeStream stream;
  stream.Bind(outbox);
  ASSERT_EQ(stream.started.size(), 1u);
}

}  // namespace
}  // namespace canopy::controller
