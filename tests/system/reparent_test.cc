// Lossless re-parenting: a relay dies mid-stream under `reliable`; its
// children move to a new parent, resume from their last delivered sequence
// and end with exactly the published stream.

#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "xxhash.h"

namespace canopy::testing {
namespace {

constexpr int kMessages = 6000;

std::string Message(int i) { return absl::StrFormat("weights-chunk-%06d-%s", i, std::string(200, 'w')); }

// Reads one subscriber until it has `want` messages or fails.
class Collector {
 public:
  Collector(std::unique_ptr<Subscriber> sub, int want)
      : sub_(std::move(sub)), thread_([this, want] { Run(want); }) {}
  ~Collector() {
    sub_->Cancel();
    thread_.join();
  }

  bool AwaitAtLeast(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return payloads_.size() >= n || !error_.ok();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return payloads_.size() >= n;
  }
  std::vector<std::string> payloads() {
    absl::MutexLock lock(&mu_);
    return payloads_;
  }
  uint64_t missed() {
    absl::MutexLock lock(&mu_);
    return missed_;
  }
  absl::Status error() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  void Run(int want) {
    for (int i = 0; i < want; ++i) {
      absl::StatusOr<ReceivedMessage> m = sub_->Next(absl::Seconds(60));
      absl::MutexLock lock(&mu_);
      if (!m.ok()) {
        error_ = m.status();
        return;
      }
      missed_ += m->missed_before;
      payloads_.push_back(std::move(m->payload));
    }
  }

  std::unique_ptr<Subscriber> sub_;
  absl::Mutex mu_;
  std::vector<std::string> payloads_ ABSL_GUARDED_BY(mu_);
  uint64_t missed_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

uint64_t ContentHash(const std::vector<std::string>& payloads) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const std::string& p : payloads) {
    const uint64_t size = p.size();
    XXH3_64bits_update(state, &size, sizeof size);
    XXH3_64bits_update(state, p.data(), p.size());
  }
  const uint64_t h = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return h;
}

bool HasEdge(const v1::GetTreeResponse& tree, const std::string& parent, const std::string& child) {
  for (const auto& t : tree.trees()) {
    for (const auto& e : t.edges()) {
      if (e.parent() == parent && e.child() == child) return true;
    }
  }
  return false;
}

TEST(ReparentTest, KilledRelayLosesNothingUnderReliable) {
  Overlay probe;  // only for a temporary directory
  // node-b is the cheap way from node-a to node-c and node-d; the direct
  // links are the fallback once node-b is gone.
  const std::string links = probe.WriteFile(
      "links.txt",
      "node-a node-b 1000\nnode-b node-c 1000\nnode-b node-d 1000\n"
      "node-a node-c 5000\nnode-a node-d 5000\n");
  Overlay overlay({"--links", links});
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  overlay.StartNode("node-d");

  std::vector<std::unique_ptr<Collector>> collectors;
  for (const char* node : {"node-c", "node-d"}) {
    auto sub = Subscriber::Open({overlay.client_address(node), "params"});
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE((*sub)->WaitJoined(kWait).ok());
    collectors.push_back(std::make_unique<Collector>(*std::move(sub), kMessages));
  }
  auto pub = Publisher::Open({overlay.client_address("node-a"), "params", "trainer"});
  ASSERT_TRUE(pub.ok()) << pub.status();

  std::vector<std::string> sent;
  for (int i = 1; i <= kMessages / 3; ++i) {
    sent.push_back(Message(i));
    ASSERT_TRUE((*pub)->Send(sent.back()).ok());
  }
  for (auto& c : collectors) {
    ASSERT_TRUE(c->AwaitAtLeast(kMessages / 3, kWait)) << c->error() << overlay.Logs();
  }
  ASSERT_TRUE(overlay.AwaitTree("params", [](const v1::GetTreeResponse& t) {
    return HasEdge(t, "node-a", "node-b") && HasEdge(t, "node-b", "node-c") &&
           HasEdge(t, "node-b", "node-d");
  })) << overlay.Logs();

  // The relay freezes: what node-a sends now sits in node-b's socket
  // buffers and dies with it.
  overlay.node("node-b").Signal(SIGSTOP);
  for (int i = kMessages / 3 + 1; i <= 2 * kMessages / 3; ++i) {
    sent.push_back(Message(i));
    ASSERT_TRUE((*pub)->Send(sent.back()).ok());
  }
  overlay.KillNode("node-b");
  // The stream goes on while the tree is re-planned.
  for (int i = 2 * kMessages / 3 + 1; i <= kMessages; ++i) {
    sent.push_back(Message(i));
    ASSERT_TRUE((*pub)->Send(sent.back()).ok());
  }
  ASSERT_TRUE(overlay.AwaitTree("params", [](const v1::GetTreeResponse& t) {
    return HasEdge(t, "node-a", "node-c") && HasEdge(t, "node-a", "node-d");
  })) << overlay.Logs();

  const uint64_t want_hash = ContentHash(sent);
  for (auto& c : collectors) {
    ASSERT_TRUE(c->AwaitAtLeast(kMessages, kWait)) << c->error() << overlay.Logs();
    std::vector<std::string> got = c->payloads();
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_EQ(ContentHash(got), want_hash);
    EXPECT_EQ(c->missed(), 0u);
  }
  // The children really were behind and were served from node-a's ring.
  EXPECT_TRUE(overlay.node("node-a").WaitForStderr("resumes flow (params, trainer)", kWait))
      << overlay.Logs();
  auto summary = (*pub)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->messages, static_cast<uint64_t>(kMessages));
}

}  // namespace
}  // namespace canopy::testing
