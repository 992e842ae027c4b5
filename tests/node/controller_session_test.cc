// ControllerSession against fake controllers on loopback gRPC: a table of a
// deposed leader's (lower) term is ignored and the stream left; a follower's
// FAILED_PRECONDITION is followed to the leader it names; an address that
// does not answer is passed over for the next one; a controller that goes
// silent is left and attached to again.

#include "node/controller_session.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/leader_redirect.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"

namespace canopy::node {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

v1::NodeInstruction Beat(uint64_t term) {
  v1::NodeInstruction i;
  i.mutable_leader()->set_term(term);
  i.mutable_leader()->set_leader("leader");
  return i;
}

v1::NodeInstruction Table(uint64_t term, uint64_t version) {
  v1::NodeInstruction i;
  i.mutable_table()->set_term(term);
  i.mutable_table()->set_version(version);
  return i;
}

// Polls `done` until it holds or `kWait` passed; true if it held.
template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));  // poll interval, bounded by the deadline
  }
  return done();
}

// A controller that answers the Nth Attach with script(N) (N from 1), then
// reads until the node ends the stream; or, as a follower, refuses every
// Attach naming `leader`.
class FakeController final : public v1::Controller::Service {
 public:
  using Script = std::function<std::vector<v1::NodeInstruction>(int attach)>;

  explicit FakeController(Script script) : script_(std::move(script)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeController() override { server_->Shutdown(std::chrono::system_clock::now()); }

  // Makes this controller a follower of `leader` ("": none known yet).
  void Follow(const std::string& leader) {
    absl::MutexLock lock(&mu_);
    following_ = true;
    leader_ = leader;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int attaches() const {
    absl::MutexLock lock(&mu_);
    return attaches_;
  }
  int refusals() const {
    absl::MutexLock lock(&mu_);
    return refusals_;
  }

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::NodeInstruction, v1::NodeReport>* stream) override {
    int attach;
    {
      absl::MutexLock lock(&mu_);
      if (following_) {
        ++refusals_;
        return NotLeader(*context, address(), leader_);
      }
    }
    v1::NodeReport report;
    if (!stream->Read(&report) || !report.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello first");
    }
    {
      absl::MutexLock lock(&mu_);
      attach = ++attaches_;
    }
    for (const v1::NodeInstruction& i : script_(attach)) {
      if (!stream->Write(i)) return grpc::Status::OK;
    }
    while (stream->Read(&report)) {
    }
    return grpc::Status::OK;
  }

 private:
  const Script script_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  bool following_ ABSL_GUARDED_BY(mu_) = false;
  std::string leader_ ABSL_GUARDED_BY(mu_);
  int attaches_ ABSL_GUARDED_BY(mu_) = 0;
  int refusals_ ABSL_GUARDED_BY(mu_) = 0;
};

class ControllerSessionTest : public ::testing::Test {
 protected:
  std::unique_ptr<ControllerSession> Session(std::vector<std::string> addresses,
                                             absl::Duration silence = absl::Seconds(20)) {
    ControllerSessionOptions options;
    options.controller_addresses = std::move(addresses);
    options.reconnect_initial = absl::Milliseconds(20);
    options.reconnect_max = absl::Seconds(2);
    options.controller_silence = silence;
    auto session = std::make_unique<ControllerSession>(std::move(options), state_, clients_, [this] {
      absl::MutexLock lock(&mu_);
      ++tables_applied_;
    });
    v1::NodeHello hello;
    hello.set_node_id("n1");
    session->Start(hello);
    return session;
  }

  int tables_applied() {
    absl::MutexLock lock(&mu_);
    return tables_applied_;
  }

  ForwardingState state_;
  LocalClients clients_{[] {}};
  absl::Mutex mu_;
  int tables_applied_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ControllerSessionTest, TableOfAStaleTermIsIgnoredAndTheStreamLeft) {
  FakeController controller([](int attach) -> std::vector<v1::NodeInstruction> {
    if (attach == 1) return {Beat(5), Table(5, 1), Table(3, 2)};
    return {Beat(5)};
  });
  auto session = Session({controller.address()});
  ASSERT_TRUE(Eventually([&] { return controller.attaches() >= 2; }))
      << "the session should leave the stream of the stale table and attach again";
  EXPECT_EQ(session->stale_tables(), 1u);
  EXPECT_EQ(session->leader_term(), 5u);
  EXPECT_EQ(tables_applied(), 1) << "only the current term's table is applied";
  session->Stop();
}

TEST_F(ControllerSessionTest, NewerTermIsTakenUp) {
  FakeController controller([](int attach) -> std::vector<v1::NodeInstruction> {
    if (attach == 1) return {Beat(5), Table(5, 1), Beat(9), Table(9, 1)};
    return {};
  });
  auto session = Session({controller.address()});
  ASSERT_TRUE(Eventually([&] { return tables_applied() == 2; }));
  EXPECT_EQ(session->leader_term(), 9u);
  EXPECT_EQ(session->stale_tables(), 0u);
  EXPECT_EQ(controller.attaches(), 1);
  session->Stop();
}

TEST_F(ControllerSessionTest, FollowsAFollowersRedirectToTheLeader) {
  FakeController leader([](int) -> std::vector<v1::NodeInstruction> { return {Beat(7), Table(7, 1)}; });
  FakeController follower([](int) -> std::vector<v1::NodeInstruction> { return {}; });
  follower.Follow(leader.address());
  auto session = Session({follower.address()});
  ASSERT_TRUE(Eventually([&] { return session->connected() && tables_applied() == 1; }));
  EXPECT_EQ(leader.attaches(), 1);
  EXPECT_EQ(follower.attaches(), 0);
  EXPECT_EQ(session->leader_term(), 7u);
  session->Stop();
}

TEST_F(ControllerSessionTest, KeepsAskingPromptlyWhileFollowersAwaitAnElection) {
  FakeController follower([](int) -> std::vector<v1::NodeInstruction> { return {}; });
  follower.Follow("");  // alive, no leader yet
  // Backoff from 20 ms, capped at 2 s: doubling would allow about eight
  // tries in the first two seconds; the session must not back off at all.
  auto session = Session({follower.address()});
  const absl::Time start = absl::Now();
  ASSERT_TRUE(Eventually([&] { return follower.refusals() >= 30; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2))
      << "backed off from a live follower: " << follower.refusals() << " tries";
  // The leader appears: the node attaches there at once.
  FakeController leader([](int) -> std::vector<v1::NodeInstruction> { return {Beat(2)}; });
  follower.Follow(leader.address());
  ASSERT_TRUE(Eventually([&] { return session->leader_term() == 2; }));
  EXPECT_EQ(leader.attaches(), 1);
  session->Stop();
}

TEST_F(ControllerSessionTest, PassesOverAnAddressThatDoesNotAnswer) {
  FakeController controller([](int) -> std::vector<v1::NodeInstruction> { return {Beat(1)}; });
  // Nothing listens on port 1 of loopback.
  auto session = Session({"127.0.0.1:1", controller.address()});
  ASSERT_TRUE(Eventually([&] { return session->leader_term() == 1; }));
  EXPECT_EQ(controller.attaches(), 1);
  session->Stop();
}

TEST_F(ControllerSessionTest, LeavesASilentControllerAndAttachesAgain) {
  // One beat, then silence on an open stream (a paused leader).
  FakeController controller([](int) -> std::vector<v1::NodeInstruction> { return {Beat(3)}; });
  auto session = Session({controller.address()}, absl::Milliseconds(600));
  ASSERT_TRUE(Eventually([&] { return controller.attaches() >= 2; }))
      << "a silent controller should be left";
  session->Stop();
}

}  // namespace
}  // namespace canopy::node
