// Controller replicas on a real 3-member etcd cluster (Debian's etcd-server
// on loopback): one leads; followers name it; a leader killed mid-stream
// loses no message and no policy; a leader paused past its lease steps down
// before it pushes anything; etcd losing one member changes nothing, losing
// two refuses policy changes while planning goes on, and its return
// reconciles. Skipped where etcd is not installed (scripts/setup installs
// it).

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/leader_redirect.h"
#include "base/program.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"
#include "tests/system/prometheus_text.h"
#include "tests/system/replicas.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kLeaseTtl = absl::Seconds(2);
constexpr absl::Duration kLiveness = absl::Milliseconds(600);
constexpr int kBatch = 200;

std::vector<std::string> ReplicaArgs() {
  return {"--etcd-lease-ttl-ms", absl::StrCat(absl::ToInt64Milliseconds(kLeaseTtl)),
          "--liveness-ms", absl::StrCat(absl::ToInt64Milliseconds(kLiveness))};
}

std::unique_ptr<v1::Controller::Stub> StubTo(const std::string& address) {
  return v1::Controller::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// Runs canopyctl with `args`; returns its exit code and fills `out`.
std::optional<int> Canopyctl(std::vector<std::string> args, std::string* out,
                             std::string* err = nullptr) {
  args.insert(args.begin(), BinaryPath("canopyctl"));
  Process p(std::move(args));
  std::optional<int> code = p.Wait(kWait);
  std::string text;
  for (const std::string& line : p.StdoutLines()) text += line + "\n";
  *out = text;
  if (err != nullptr) *err = p.Stderr();
  return code;
}

// canopy_controller_tables_pushed_total of a replica's /metrics.
std::optional<double> TablesPushed(Process& replica) {
  const std::vector<std::string> lines = replica.StdoutLines();
  if (lines.empty()) return std::nullopt;
  const std::string metrics = ListeningField(lines.front(), "metrics");
  absl::StatusOr<HttpResponse> r = HttpRequest(metrics, "GET", "/metrics", absl::Seconds(5));
  if (!r.ok()) return std::nullopt;
  auto families = ParsePrometheusText(r->body);
  if (!families.ok()) return std::nullopt;
  return FindSample(*families, "canopy_controller_tables_pushed_total", {});
}

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdInstalled()) GTEST_SKIP() << "etcd-server is not installed (scripts/setup)";
    etcd_ = std::make_unique<EtcdCluster>(3);
    ASSERT_TRUE(etcd_->AwaitHealthy(kWait)) << etcd_->Logs();
    replicas_ = std::make_unique<ControllerReplicas>(*etcd_, 3, ReplicaArgs());
    std::optional<int> leader = replicas_->AwaitLeader(kWait);
    ASSERT_TRUE(leader) << replicas_->Logs();
    leader_ = *leader;
    overlay_ = Overlay::OnReplicas(replicas_->addresses(), replicas_->address(leader_));
  }

  // Waits for the next leader (not `old`) and points the overlay at it.
  bool FollowNewLeader(int old, const std::vector<int>& ignore = {}) {
    std::vector<int> skip = ignore;
    skip.push_back(old);
    std::optional<int> leader = replicas_->AwaitLeader(kWait, skip);
    if (!leader) return false;
    leader_ = *leader;
    overlay_->UseController(replicas_->address(leader_));
    return true;
  }

  std::string Logs() const {
    return (overlay_ ? overlay_->Logs() : "") + "\n" + (replicas_ ? replicas_->Logs() : "") + "\n" +
           (etcd_ ? etcd_->Logs() : "");
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<ControllerReplicas> replicas_;
  std::unique_ptr<Overlay> overlay_;
  int leader_ = -1;
};

TEST_F(HaTest, FollowersRefuseNameTheLeaderAndAreFollowed) {
  const int follower = (leader_ + 1) % 3;
  EXPECT_FALSE(replicas_->Serving(follower));
  // A call to a follower: FAILED_PRECONDITION naming the leader.
  auto stub = StubTo(replicas_->address(follower));
  grpc::ClientContext context;
  v1::ListNodesResponse nodes;
  grpc::Status s = stub->ListNodes(&context, {}, &nodes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), replicas_->address(leader_)))
      << s.error_message();
  EXPECT_EQ(RedirectedTo(context, s), replicas_->address(leader_));
  // GetTop reads the leader's live traffic: refused the same way.
  grpc::ClientContext top_context;
  v1::TopResponse top;
  s = stub->GetTop(&top_context, {}, &top);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(RedirectedTo(top_context, s), replicas_->address(leader_));

  // A node given only the follower attaches to the leader.
  auto follower_only =
      Overlay::OnReplicas(replicas_->address(follower), replicas_->address(leader_));
  ASSERT_FALSE(follower_only->StartNode("n1").empty()) << follower_only->Logs() << Logs();

  // canopyctl given the follower first follows too, and names the leader.
  std::string out, err;
  ASSERT_EQ(Canopyctl({"--controller", replicas_->address(follower), "status"}, &out, &err), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "leader    " + replicas_->address(leader_))) << out;
  EXPECT_TRUE(absl::StrContains(out, "store     etcd /canopy/ (reachable)")) << out;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(absl::StrContains(out, replicas_->address(i))) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n') >= 9, true) << out;
  EXPECT_TRUE(absl::StrContains(out, "healthy   etcd 3.")) << out;
  ASSERT_EQ(Canopyctl({"--controller", replicas_->addresses(), "nodes"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "n1")) << out;
  ASSERT_EQ(Canopyctl({"--controller", replicas_->address(follower), "top"}, &out, &err), 0)
      << err;
}

TEST_F(HaTest, LeaderKilledMidStreamLosesNothingAndPlansTheJoinMadeMeanwhile) {
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_FALSE(overlay_->StartNode(id, 0, {"--probe-interval-ms", "0"}).empty()) << Logs();
  }
  ASSERT_TRUE(overlay_->SetAllowList("g", {"src"}).ok()) << Logs();
  NumberedStream stream(*overlay_, "a", "b", "g");
  ASSERT_TRUE(stream.Start()) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();

  const int old = leader_;
  replicas_->Kill(old);
  // Mid-stream and mid-failover: more messages and a join at c.
  stream.Publish(kBatch);
  auto late = overlay_->StartSubscriber("c", {"--group", "g", "--with-source"});
  ASSERT_TRUE(FollowNewLeader(old)) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();
  const StreamVerdict v = stream.Verdict();
  EXPECT_TRUE(v.ok()) << v.ToString() << "\n" << Logs();
  EXPECT_EQ(v.delivered, stream.published());
  // The join made during the failover is planned: c gets the stream.
  stream.Publish(10);
  EXPECT_TRUE(late->WaitForStdout(NumberedStream::Message(stream.published()), kWait))
      << late->Stderr() << Logs();
  // The policy is intact on the new leader.
  grpc::ClientContext context;
  v1::GetPolicyRequest request;
  request.set_group("g");
  v1::GroupPolicy policy;
  ASSERT_TRUE(overlay_->stub().GetPolicy(&context, request, &policy).ok());
  ASSERT_EQ(policy.allowed_sources_size(), 1);
  EXPECT_EQ(policy.allowed_sources(0), "src");
}

TEST_F(HaTest, PausedLeaderStepsDownBeforePushingAnyTable) {
  for (const char* id : {"a", "b"}) {
    ASSERT_FALSE(overlay_->StartNode(id, 0, {"--probe-interval-ms", "0"}).empty()) << Logs();
  }
  NumberedStream stream(*overlay_, "a", "b", "g");
  ASSERT_TRUE(stream.Start()) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();

  const int old = leader_;
  const std::optional<double> pushed_before = TablesPushed(replicas_->process(old));
  ASSERT_TRUE(pushed_before) << Logs();
  replicas_->Pause(old);
  ASSERT_TRUE(FollowNewLeader(old, {old})) << Logs();
  ASSERT_TRUE(overlay_->AwaitNodeListed("a") && overlay_->AwaitNodeListed("b")) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();

  replicas_->Resume(old);
  EXPECT_TRUE(replicas_->process(old).WaitForStderr("lost the leadership", kWait)) << Logs();
  const std::optional<int> leader = replicas_->AwaitLeader(kWait);
  ASSERT_TRUE(leader) << Logs();
  EXPECT_EQ(*leader, leader_) << "the new leader keeps leading";
  EXPECT_EQ(TablesPushed(replicas_->process(old)), pushed_before)
      << "the old leader pushed a table after waking\n"
      << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();
  const StreamVerdict v = stream.Verdict();
  EXPECT_TRUE(v.ok()) << v.ToString() << "\n" << Logs();
}

TEST_F(HaTest, EtcdLosingOneMemberChangesNothing) {
  for (const char* id : {"a", "b"}) {
    ASSERT_FALSE(overlay_->StartNode(id, 0, {"--probe-interval-ms", "0"}).empty()) << Logs();
  }
  etcd_->Kill(0);
  ASSERT_TRUE(overlay_->SetAllowList("g", {"src"}).ok()) << Logs();
  NumberedStream stream(*overlay_, "a", "b", "g");
  ASSERT_TRUE(stream.Start()) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();
  EXPECT_TRUE(replicas_->Serving(leader_)) << "the leader still leads";
}

TEST_F(HaTest, EtcdLosingItsQuorumRefusesPolicyChangesWhilePlanningGoesOn) {
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_FALSE(overlay_->StartNode(id, 0, {"--probe-interval-ms", "0"}).empty()) << Logs();
  }
  ASSERT_TRUE(overlay_->SetAllowList("g", {"src"}).ok()) << Logs();
  NumberedStream stream(*overlay_, "a", "b", "g");
  ASSERT_TRUE(stream.Start()) << Logs();
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();

  etcd_->Kill(1);
  etcd_->Kill(2);
  // Policy changes are refused, naming etcd.
  const absl::Time deadline = absl::Now() + kWait;
  absl::Status refused;
  while (absl::Now() < deadline) {
    refused = overlay_->SetAllowList("g", {"src", "other"});
    if (absl::IsUnavailable(refused)) break;
    absl::SleepFor(absl::Milliseconds(200));  // poll interval, bounded by the deadline
  }
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused << Logs();
  EXPECT_TRUE(absl::StrContains(refused.message(), "etcd")) << refused;
  std::string out, err;
  ASSERT_EQ(Canopyctl({"--controller", replicas_->addresses(), "stats"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "store_reachable           no")) << out;
  // The data plane and planning go on: the stream flows and a new member
  // of the group is planned in.
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();
  auto late = overlay_->StartSubscriber("c", {"--group", "g", "--with-source"});
  ASSERT_TRUE(late->WaitForStderr("joined", kWait)) << late->Stderr();
  stream.Publish(10);
  EXPECT_TRUE(late->WaitForStdout(NumberedStream::Message(stream.published()), kWait))
      << late->Stderr() << Logs();

  // etcd returns: the same leader goes on, policy changes work again.
  etcd_->Start(1);
  etcd_->Start(2);
  ASSERT_TRUE(etcd_->AwaitHealthy(kWait)) << etcd_->Logs();
  absl::Status accepted;
  const absl::Time back = absl::Now() + kWait;
  while (absl::Now() < back) {
    accepted = overlay_->SetAllowList("g", {"src", "other"});
    if (accepted.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));  // poll interval, bounded by the deadline
  }
  EXPECT_TRUE(accepted.ok()) << accepted << Logs();
  ASSERT_EQ(Canopyctl({"--controller", replicas_->addresses(), "stats"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "store_reachable           yes")) << out;
  stream.Publish(kBatch);
  ASSERT_TRUE(stream.AwaitDelivered()) << Logs();
  const StreamVerdict v = stream.Verdict();
  EXPECT_TRUE(v.ok()) << v.ToString() << "\n" << Logs();
}

// Failover time: the leader is SIGKILLed while joins keep arriving; how long
// until a join is planned again. CANOPY_FAILOVER_ROUNDS (default 1) repeats
// it; each round prints "failover_ms=N".
TEST_F(HaTest, FailoverTime) {
  for (const char* id : {"a", "b"}) {
    ASSERT_FALSE(overlay_->StartNode(id, 0, {"--probe-interval-ms", "0"}).empty()) << Logs();
  }
  const char* env = std::getenv("CANOPY_FAILOVER_ROUNDS");
  const int rounds = std::clamp(env ? std::atoi(env) : 1, 1, 2);  // 3 replicas: 2 kills
  const absl::Duration bound = kLeaseTtl + 2 * kLiveness;
  for (int round = 0; round < rounds; ++round) {
    const int old = leader_;
    replicas_->Kill(old);
    const absl::Time killed = absl::Now();
    // Joins keep arriving: a fresh group each, until one is planned.
    std::optional<absl::Duration> planned;
    for (int join = 0; join < 200 && !planned; ++join) {
      const std::string group = absl::StrCat("f", round, "-", join);
      auto sub = overlay_->StartSubscriber("b", {"--group", group});
      const absl::Time asked = absl::Now();
      // A join counts as planned when the leader lists b as its member.
      const absl::Time deadline = asked + absl::Milliseconds(500);
      while (absl::Now() < deadline) {
        std::optional<int> leader = replicas_->AwaitLeader(absl::Milliseconds(1), {old});
        if (leader) {
          overlay_->UseController(replicas_->address(*leader));
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
          v1::ListMembersRequest request;
          request.set_group(group);
          v1::ListMembersResponse members;
          const bool listed =
              overlay_->stub().ListMembers(&context, request, &members).ok() &&
              std::any_of(members.members().begin(), members.members().end(),
                          [](const v1::Member& m) { return m.node_id() == "b"; });
          if (listed) {
            planned = absl::Now() - killed;
            leader_ = *leader;
            break;
          }
        }
        absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
      }
    }
    ASSERT_TRUE(planned) << Logs();
    std::printf("failover_ms=%lld (bound %lld)\n",
                static_cast<long long>(absl::ToInt64Milliseconds(*planned)),
                static_cast<long long>(absl::ToInt64Milliseconds(bound)));
    EXPECT_LE(*planned, bound + absl::Seconds(2)) << "slack for a loaded 2-core machine\n"
                                                  << Logs();
  }
}

}  // namespace
}  // namespace canopy::testing
