// ObjectReceiver against a fake subscription: a hostile or broken sender
// costs a receiver bounded memory and time, and gets a clear error.

#include <deque>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "canopy/object.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/object_codec.h"

namespace canopy {
namespace {

using ::testing::HasSubstr;

// A subscription whose messages the test queues. Next() waits as long as
// the receiver asks when nothing is queued; resend requests are counted.
class FakeSubscriber final : public Subscriber {
 public:
  void Queue(uint64_t sequence, std::string payload) {
    absl::MutexLock lock(&mu_);
    ReceivedMessage m;
    m.group = "g";
    m.source = "sender";
    m.sequence = sequence;
    m.payload = std::move(payload);
    queued_.push_back(std::move(m));
  }

  absl::Status WaitJoined(absl::Duration) override { return absl::OkStatus(); }

  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queued_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
      return absl::DeadlineExceededError("nothing queued");
    }
    ReceivedMessage m = std::move(queued_.front());
    queued_.pop_front();
    return m;
  }

  absl::Status RequestResend(const std::string&, uint64_t first, uint64_t last) override {
    absl::MutexLock lock(&mu_);
    resent_sequences_ += last - first + 1;
    return absl::OkStatus();
  }

  void Cancel() override {}

  uint64_t resent_sequences() {
    absl::MutexLock lock(&mu_);
    return resent_sequences_;
  }

 private:
  absl::Mutex mu_;
  std::deque<ReceivedMessage> queued_ ABSL_GUARDED_BY(mu_);
  uint64_t resent_sequences_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string ManifestOf(uint64_t size, uint32_t chunk_bytes) {
  ObjectManifest m;
  m.object_id = 42;
  m.size = size;
  m.chunk_bytes = chunk_bytes;
  m.chunk_count = static_cast<uint32_t>(size / chunk_bytes + (size % chunk_bytes != 0));
  m.name = "blob";
  return EncodeManifest(m);
}

// Options of a ReceiveChunks() call that gives up after `timeout`.
ReceiveObjectOptions ChunksWithin(absl::Duration timeout) {
  ReceiveObjectOptions options;
  options.timeout = timeout;
  options.on_chunk = [](uint64_t, absl::string_view) {};
  return options;
}

std::string ChunkOf(uint32_t index, const std::string& data) {
  auto header = EncodeChunkHeader(42, index, data);
  return std::string(header.data(), header.size()) + data;
}

TEST(ObjectReceiverTest, AHostileManifestIsRefusedBeforeAnythingIsAllocated) {
  FakeSubscriber sub;
  ObjectManifest hostile;
  hostile.object_id = 1;
  hostile.size = 4294967295u;
  hostile.chunk_bytes = 1;
  hostile.chunk_count = 4294967295u;
  hostile.name = "fifteen-bytes.x";
  sub.Queue(1, EncodeManifest(hostile));
  ObjectReceiver receiver(sub);
  const absl::Time start = absl::Now();
  absl::StatusOr<ReceivedObject> got = receiver.ReceiveChunks(ChunksWithin(absl::Seconds(20)));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("manifest from sender"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(ObjectReceiverTest, AnObjectAboveTheLimitIsRefusedAndOnStartNeverCalled) {
  for (int call = 0; call < 2; ++call) {
    FakeSubscriber sub;
    sub.Queue(1, ManifestOf(uint64_t{1} << 30, 1 << 20));
    ObjectReceiver receiver(sub);
    ReceiveObjectOptions options = ChunksWithin(absl::Seconds(20));
    options.max_object_bytes = 64 << 20;
    bool started = false;
    options.on_start = [&](const ObjectInfo&) {
      started = true;
      return absl::OkStatus();
    };
    absl::Status status =
        call == 0 ? receiver.ReceiveChunks(options).status() : receiver.Receive(options).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(status.message(), HasSubstr("at most 67108864"));
    EXPECT_FALSE(started);
  }
}

TEST(ObjectReceiverTest, AnObjectWithinTheLimitArrives) {
  FakeSubscriber sub;
  const std::string data(3000, 'x');
  sub.Queue(1, ManifestOf(data.size(), 1024));
  for (uint32_t i = 0; i < 3; ++i) sub.Queue(2 + i, ChunkOf(i, data.substr(i * 1024, 1024)));
  Sha256 digest{};
  // The END's digest is checked after the chunks: a wrong one is DataLoss,
  // which still proves the limit let the object through.
  sub.Queue(5, EncodeEnd(42, digest));
  ObjectReceiver receiver(sub);
  ReceiveObjectOptions options;
  options.timeout = absl::Seconds(20);
  options.max_object_bytes = data.size();
  absl::StatusOr<std::pair<ReceivedObject, std::string>> got = receiver.Receive(options);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
}

TEST(ObjectReceiverTest, TimeoutIsHonouredAndResendsStayBoundedWhenASenderSkipsAhead) {
  FakeSubscriber sub;
  // 1 GiB in 1 KiB chunks: a million chunks; then one far ahead, so that
  // all before it look missing.
  sub.Queue(1, ManifestOf(uint64_t{1} << 30, 1024));
  const uint32_t last = (1u << 20) - 1;
  sub.Queue(2 + last, ChunkOf(last, std::string(1024, 'z')));
  ObjectReceiver receiver(sub);
  const absl::Time start = absl::Now();
  // Less than one resend round (2 s): at most one window of asks goes out.
  absl::StatusOr<ReceivedObject> got =
      receiver.ReceiveChunks(ChunksWithin(absl::Milliseconds(1500)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  EXPECT_LT(took, absl::Seconds(6)) << "the deadline must end the receive, not a hang";
  EXPECT_GT(sub.resent_sequences(), 0u);
  EXPECT_LE(sub.resent_sequences(), 4096u);
}

}  // namespace
}  // namespace canopy
