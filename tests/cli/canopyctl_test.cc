// canopyctl as a subprocess: exit codes and one-line errors for bad command
// lines and an unreachable controller; read-modify-write policy set and
// watch against a fake controller; several controller addresses and a
// follower's redirect to the leader.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/leader_redirect.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"

namespace canopy::cli::testing {
namespace {

using ::canopy::testing::BinaryPath;
using ::canopy::testing::Process;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

std::vector<std::string> Ctl(const std::string& controller, std::vector<std::string> args) {
  std::vector<std::string> argv = {BinaryPath("canopyctl"), "--controller", controller};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// A loopback port that nobody listens on: bound, then closed.
std::string ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
}

v1::GetTreeResponse Tree(const std::string& group, int64_t cost) {
  v1::GetTreeResponse r;
  r.set_group(group);
  v1::SourceTree* t = r.add_trees();
  t->set_source("trainer");
  t->set_root("node-a");
  v1::TreeEdge* e = t->add_edges();
  e->set_parent("node-a");
  e->set_child("node-b");
  e->set_cost(cost);
  t->set_cost(cost);
  t->add_receivers("node-b");
  return r;
}

// A controller with canned answers. Group "forever": WatchTree sends one
// update and holds the stream until cancelled; any other group: two updates,
// then the stream ends OK. GetTree knows only group "g".
class FakeController final : public v1::Controller::Service {
 public:
  FakeController() {
    policy_.set_group("g");
    policy_.add_allowed_sources("old");
    policy_.set_profile(v1::TREE_PROFILE_COST);
    policy_.set_ttl(8);
    policy_.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
  }

  grpc::Status GetPolicy(grpc::ServerContext*, const v1::GetPolicyRequest* request,
                         v1::GroupPolicy* response) override {
    // Only group "g" has a stored policy.
    if (request->stored_only() && request->group() != "g") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no policy set for group '", request->group(), "'"));
    }
    absl::MutexLock lock(&mu_);
    *response = policy_;
    response->set_group(request->group());
    return grpc::Status::OK;
  }
  grpc::Status SetPolicy(grpc::ServerContext*, const v1::GroupPolicy* request,
                         v1::GroupPolicy* response) override {
    absl::MutexLock lock(&mu_);
    set_requests_.push_back(*request);
    policy_ = *request;
    *response = *request;
    return grpc::Status::OK;
  }
  grpc::Status GetTree(grpc::ServerContext*, const v1::GetTreeRequest* request,
                       v1::GetTreeResponse* response) override {
    if (request->group() != "g") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("group ", request->group(), " has no members"));
    }
    *response = Tree("g", 120);
    return grpc::Status::OK;
  }
  grpc::Status WatchTree(grpc::ServerContext* context, const v1::GetTreeRequest* request,
                         grpc::ServerWriter<v1::GetTreeResponse>* writer) override {
    writer->Write(Tree(request->group(), 120));
    if (request->group() == "forever") {
      while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
      return grpc::Status::CANCELLED;
    }
    writer->Write(Tree(request->group(), 90));
    return grpc::Status::OK;
  }

  std::vector<v1::GroupPolicy> set_requests() {
    absl::MutexLock lock(&mu_);
    return set_requests_;
  }

 private:
  absl::Mutex mu_;
  v1::GroupPolicy policy_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GroupPolicy> set_requests_ ABSL_GUARDED_BY(mu_);
};

// A controller replica that does not lead: refuses the policy calls naming
// `leader`, as canopy-controller --etcd followers do.
class FollowerController final : public v1::Controller::Service {
 public:
  explicit FollowerController(std::string leader) : leader_(std::move(leader)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FollowerController() override { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest*,
                         v1::GroupPolicy*) override {
    return NotLeader(*context, address(), leader_);
  }
  grpc::Status SetPolicy(grpc::ServerContext* context, const v1::GroupPolicy*,
                         v1::GroupPolicy*) override {
    return NotLeader(*context, address(), leader_);
  }

 private:
  const std::string leader_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

class CanopyctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  FakeController fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST(CanopyctlCommandLineTest, TtlOutOfRangeExitsTwoWithOneLine) {
  Process p(Ctl(ClosedPort(), {"policy", "set", "g", "--ttl", "300"}));
  EXPECT_EQ(p.Wait(kWait), 2);
  EXPECT_EQ(Lines(p.Stderr()), 1) << p.Stderr();
  EXPECT_THAT(p.Stderr(), HasSubstr("--ttl"));
  EXPECT_EQ(p.Stdout(), "");
}

TEST(CanopyctlCommandLineTest, UnknownProfileExitsTwoWithOneLine) {
  Process p(Ctl(ClosedPort(), {"policy", "set", "g", "--profile", "fast"}));
  EXPECT_EQ(p.Wait(kWait), 2);
  EXPECT_EQ(Lines(p.Stderr()), 1) << p.Stderr();
  EXPECT_THAT(p.Stderr(), HasSubstr("--profile"));
}

TEST(CanopyctlCommandLineTest, OtherBadCommandLinesExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"policy", "set", "g", "--slow", "lossy"},
      {"policy", "set", "g"},
      {"policy", "set", "g", "--allow", "bad source"},
      {"tree", "g", "--format", "svg"},
      {"stats", "--format", "dot"},
      {"members"},
      {"no-such-subcommand"},
  };
  for (const auto& args : cases) {
    Process p(Ctl(ClosedPort(), args));
    EXPECT_EQ(p.Wait(kWait), 2) << args[0];
    EXPECT_EQ(Lines(p.Stderr()), 1) << p.Stderr();
    EXPECT_THAT(p.Stderr(), HasSubstr("canopyctl:"));
  }
}

TEST(CanopyctlCommandLineTest, AnUnknownSubcommandIsNamed) {
  Process bogus(Ctl(ClosedPort(), {"bogus"}));
  EXPECT_EQ(bogus.Wait(kWait), 2);
  EXPECT_THAT(bogus.Stderr(), HasSubstr("unknown subcommand 'bogus'"));
  EXPECT_THAT(bogus.Stderr(), HasSubstr("nodes, groups"));
  Process policy(Ctl(ClosedPort(), {"policy", "show", "g"}));
  EXPECT_EQ(policy.Wait(kWait), 2);
  EXPECT_THAT(policy.Stderr(), HasSubstr("unknown policy subcommand 'show' (one of get, set)"));
  Process extra(Ctl(ClosedPort(), {"nodes", "extra"}));
  EXPECT_EQ(extra.Wait(kWait), 2);
  EXPECT_THAT(extra.Stderr(), HasSubstr("unexpected argument 'extra'"));
  Process none(Ctl(ClosedPort(), {}));
  EXPECT_EQ(none.Wait(kWait), 2);
  EXPECT_THAT(none.Stderr(), HasSubstr("a subcommand is required: nodes"));
}

TEST(CanopyctlCommandLineTest, UnreachableControllerExitsOne) {
  const std::string closed = ClosedPort();
  const std::vector<std::vector<std::string>> cases = {
      {"nodes"}, {"members", "g"}, {"tree", "g"}, {"stats"}, {"policy", "set", "g", "--ttl", "2"},
      {"watch", "g"}};
  for (const auto& args : cases) {
    Process p(Ctl(closed, args));
    EXPECT_EQ(p.Wait(kWait), 1) << args[0];
    EXPECT_THAT(p.Stderr(), HasSubstr("controller unreachable at " + closed)) << args[0];
    EXPECT_EQ(Lines(p.Stderr()), 1) << p.Stderr();
  }
}

TEST_F(CanopyctlTest, PolicyGetOfAGroupWithoutAStoredPolicyExitsThree) {
  Process stored(Ctl(address_, {"policy", "get", "g"}));
  EXPECT_EQ(stored.Wait(kWait), 0) << stored.Stderr();
  EXPECT_THAT(stored.Stdout(), HasSubstr("profile        cost"));
  Process unset(Ctl(address_, {"policy", "get", "nosuchgroup"}));
  EXPECT_EQ(unset.Wait(kWait), 3) << unset.Stderr();
  EXPECT_EQ(unset.Stderr(), "canopyctl: no policy set for nosuchgroup; defaults\n");
  EXPECT_THAT(unset.Stdout(), HasSubstr("profile        latency (default)"));
  Process json(Ctl(address_, {"policy", "get", "nosuchgroup", "--format", "json"}));
  EXPECT_EQ(json.Wait(kWait), 3) << json.Stderr();
  EXPECT_THAT(json.Stdout(), HasSubstr("\"group\": \"nosuchgroup\""));
}

TEST_F(CanopyctlTest, PolicySetChangesOnlyTheGivenFlags) {
  Process p(Ctl(address_, {"policy", "set", "g", "--ttl", "16"}));
  ASSERT_EQ(p.Wait(kWait), 0) << p.Stderr();
  auto sets = fake_.set_requests();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].group(), "g");
  EXPECT_THAT(sets[0].allowed_sources(), ::testing::ElementsAre("old"));
  EXPECT_EQ(sets[0].profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ(sets[0].ttl(), 16u);
  EXPECT_EQ(sets[0].slow_receiver(), v1::SLOW_RECEIVER_REALTIME);
  EXPECT_THAT(p.Stdout(), HasSubstr("ttl            16\n"));
}

TEST_F(CanopyctlTest, PolicySetEmptyAllowClearsTheList) {
  Process p(Ctl(address_, {"policy", "set", "g", "--allow", "", "--slow", "reliable"}));
  ASSERT_EQ(p.Wait(kWait), 0) << p.Stderr();
  auto sets = fake_.set_requests();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_TRUE(sets[0].allowed_sources().empty());
  EXPECT_EQ(sets[0].slow_receiver(), v1::SLOW_RECEIVER_RELIABLE);
  EXPECT_EQ(sets[0].ttl(), 8u);
  EXPECT_THAT(p.Stdout(), HasSubstr("allow          anyone\n"));
}

TEST_F(CanopyctlTest, TreeInEveryFormat) {
  Process text(Ctl(address_, {"tree", "g"}));
  ASSERT_EQ(text.Wait(kWait), 0) << text.Stderr();
  EXPECT_THAT(text.Stdout(), HasSubstr("└── node-b  (cost 120 µs, fan-out 0/∞)  [receiver]"));
  Process json(Ctl(address_, {"tree", "g", "--format", "json"}));
  ASSERT_EQ(json.Wait(kWait), 0) << json.Stderr();
  EXPECT_THAT(json.Stdout(), HasSubstr("\"receivers\": [\n"));
  Process dot(Ctl(address_, {"tree", "g", "--format", "dot"}));
  ASSERT_EQ(dot.Wait(kWait), 0) << dot.Stderr();
  EXPECT_THAT(dot.Stdout(), HasSubstr("digraph canopy {"));
}

TEST_F(CanopyctlTest, ControllerRefusalExitsOneWithItsMessage) {
  Process p(Ctl(address_, {"tree", "nobody-here"}));
  EXPECT_EQ(p.Wait(kWait), 1);
  EXPECT_EQ(p.Stderr(), "canopyctl: NOT_FOUND: group nobody-here has no members\n");
}

TEST_F(CanopyctlTest, WatchPrintsChangesAndExitsZeroOnSigint) {
  Process p(Ctl(address_, {"watch", "forever"}));
  ASSERT_TRUE(p.WaitForStdout("node-b", kWait)) << p.Stdout() << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("  group forever  update 1\n"));
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(kWait), 0) << p.Stderr();
  EXPECT_EQ(p.Stderr(), "");
}

TEST_F(CanopyctlTest, WatchExitsOneWhenTheStreamEnds) {
  Process p(Ctl(address_, {"watch", "g"}));
  EXPECT_EQ(p.Wait(kWait), 1);
  EXPECT_THAT(p.Stdout(), HasSubstr("update 1\n"));
  EXPECT_THAT(p.Stdout(), HasSubstr("update 2\n"));
  EXPECT_THAT(p.Stdout(), HasSubstr("(cost 90 µs"));
  EXPECT_THAT(p.Stderr(), HasSubstr("closed the stream"));
  EXPECT_EQ(Lines(p.Stderr()), 1);
}

TEST_F(CanopyctlTest, WatchJsonIsOneObjectPerLine) {
  Process p(Ctl(address_, {"watch", "g", "--format", "json"}));
  EXPECT_EQ(p.Wait(kWait), 1);
  const std::string out = p.Stdout();
  EXPECT_EQ(Lines(out), 2) << out;
  EXPECT_TRUE(absl::StartsWith(out, "{\"time\":\"")) << out;
  EXPECT_THAT(out, HasSubstr("\"update\":2,\"tree\":{\"group\":\"g\""));
}

TEST_F(CanopyctlTest, SeveralControllersTheFirstDown) {
  Process p(Ctl(ClosedPort() + "," + address_, {"policy", "set", "g", "--ttl", "9"}));
  ASSERT_EQ(p.Wait(kWait), 0) << p.Stderr();
  auto sets = fake_.set_requests();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].ttl(), 9u);
}

TEST_F(CanopyctlTest, FollowsAFollowerToTheLeader) {
  FollowerController follower(address_);
  Process p(Ctl(follower.address(), {"policy", "set", "g", "--ttl", "7"}));
  ASSERT_EQ(p.Wait(kWait), 0) << p.Stderr();
  auto sets = fake_.set_requests();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].ttl(), 7u);
}

TEST_F(CanopyctlTest, NoLeaderKnownExitsOneSayingSo) {
  FollowerController follower("");
  Process p(Ctl(follower.address(), {"policy", "get", "g"}));
  EXPECT_EQ(p.Wait(kWait), 1);
  EXPECT_THAT(p.Stderr(), HasSubstr("no leader is known yet")) << p.Stderr();
  EXPECT_EQ(Lines(p.Stderr()), 1) << p.Stderr();
}

}  // namespace
}  // namespace canopy::cli::testing
