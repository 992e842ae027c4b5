#include "controller/controller_core.h"

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "controller/leadership.h"
#include "controller/session_outbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// A node's stream that takes every instruction at once.
class DrainingChannel final : public NodeChannel {
 public:
  bool Send(const v1::NodeInstruction& instruction) override {
    absl::MutexLock lock(&mu_);
    sent_.push_back(instruction);
    return !closed_;
  }
  void Close() override {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  bool closed() const {
    absl::MutexLock lock(&mu_);
    return closed_;
  }
  std::vector<v1::NodeInstruction> sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::NodeInstruction> sent_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

v1::NodeHello Hello(const std::string& id, int port) {
  v1::NodeHello hello;
  hello.set_node_id(id);
  hello.set_data_address("127.0.0.1:" + std::to_string(port));
  hello.set_client_address("127.0.0.1:" + std::to_string(port + 1));
  return hello;
}

v1::MembershipReport Joins(std::initializer_list<std::string> groups, uint64_t seq = 1) {
  v1::MembershipReport report;
  report.set_report_seq(seq);
  for (const std::string& g : groups) {
    v1::GroupMembership* m = report.add_groups();
    m->set_group(g);
    m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
  }
  return report;
}

v1::SourceReport Publishes(const std::string& group, const std::string& source) {
  v1::SourceReport report;
  v1::SourceKey* k = report.add_sources();
  k->set_group(group);
  k->set_source(source);
  return report;
}

// Leadership the test steers: leading with `term`, and whether it may push
// now (an unconfirmed lease may not).
class FakeLeadership final : public Leadership {
 public:
  void Set(bool may_push) {
    absl::MutexLock lock(&mu_);
    may_push_ = may_push;
  }
  bool leading() const override { return true; }
  uint64_t term() const override { return 7; }
  std::optional<uint64_t> PushTerm(absl::Time) const override {
    absl::MutexLock lock(&mu_);
    return may_push_ ? std::optional<uint64_t>(7) : std::nullopt;
  }
  std::string leader_address() const override { return "127.0.0.1:7600"; }
  std::string self_address() const override { return "127.0.0.1:7600"; }
  std::vector<v1::Replica> Replicas() const override { return {}; }
  std::vector<v1::EtcdEndpoint> EtcdEndpoints() const override { return {}; }

 private:
  mutable absl::Mutex mu_;
  bool may_push_ ABSL_GUARDED_BY(mu_) = true;
};

// The tables among `sent`.
std::vector<v1::ForwardingTable> Tables(const std::vector<v1::NodeInstruction>& sent) {
  std::vector<v1::ForwardingTable> tables;
  for (const v1::NodeInstruction& i : sent) {
    if (i.has_table()) tables.push_back(i.table());
  }
  return tables;
}

class ControllerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Create({}); }
  void Create(ControllerOptions options) {
    core_.reset();
    store_.reset();
    auto store = PolicyStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto core = ControllerCore::Create(std::move(options), *store_);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
  }
  std::vector<std::string> NodeIds() {
    std::vector<std::string> ids;
    const v1::ListNodesResponse nodes = core_->ListNodes();
    for (const v1::NodeSummary& n : nodes.nodes()) ids.push_back(n.node_id());
    return ids;
  }

  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ControllerCore> core_;
};

TEST_F(ControllerCoreTest, NodeThatDoesNotReadIsDisconnectedOthersGoOn) {
  ControllerOptions options;
  options.drain_timeout = absl::Seconds(5);
  Create(options);
  // The stuck node's outbox is never bound to a stream: nothing it is sent
  // is ever written.
  absl::Time now = kStart;
  SessionOutbox stuck({}, [&now] { return now; });
  DrainingChannel healthy;
  auto s1 = core_->Attach(Hello("stuck", 7000), &stuck, now);
  auto s2 = core_->Attach(Hello("healthy", 7010), &healthy, now);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_GT(stuck.Queued(), 0u);  // policies, tables, probe peers wait
  core_->OnMembership(*s1, Joins({"g1", "g2", "g3"}), now);

  // Still reporting (alive), never reading: disconnected after the bound.
  now += absl::Seconds(4);
  core_->Touch(*s1, now);
  core_->Touch(*s2, now);
  core_->ExpireSilentNodes(now);
  EXPECT_THAT(NodeIds(), ElementsAre("healthy", "stuck"));
  now += absl::Seconds(2);
  core_->Touch(*s1, now);
  core_->Touch(*s2, now);
  core_->ExpireSilentNodes(now);
  EXPECT_THAT(NodeIds(), ElementsAre("healthy"));
  EXPECT_EQ(core_->Stats().nodes_disconnected_stuck(), 1u);
  EXPECT_EQ(core_->Stats().nodes_expired(), 0u);
  EXPECT_FALSE(healthy.closed());

  // Its later reports change nothing; it comes back with a fresh session.
  core_->OnMembership(*s1, Joins({"g4"}), now);
  EXPECT_FALSE(core_->ListMembers("g4").ok());
  DrainingChannel again;
  ASSERT_TRUE(core_->Attach(Hello("stuck", 7000), &again, now).ok());
  bool got_policies = false;
  for (const v1::NodeInstruction& i : again.sent()) got_policies |= i.has_policies();
  EXPECT_TRUE(got_policies);
}

TEST_F(ControllerCoreTest, QueueOverflowDisconnectsToo) {
  SessionOutbox tiny({.max_bytes = 1u << 20, .max_instructions = 2});
  auto s = core_->Attach(Hello("n", 7000), &tiny, kStart);
  ASSERT_TRUE(s.ok());
  core_->OnMembership(*s, Joins({"g"}), kStart);
  EXPECT_TRUE(tiny.overflowed());
  core_->ExpireSilentNodes(kStart);
  EXPECT_THAT(NodeIds(), IsEmpty());
  EXPECT_EQ(core_->Stats().nodes_disconnected_stuck(), 1u);
}

TEST_F(ControllerCoreTest, LivenessIsJudgedOnWhatTheNodeSends) {
  DrainingChannel channel;
  auto s = core_->Attach(Hello("n", 7000), &channel, kStart);
  ASSERT_TRUE(s.ok());
  core_->Touch(*s, kStart + absl::Seconds(1));
  core_->ExpireSilentNodes(kStart + absl::Milliseconds(2400));
  EXPECT_THAT(NodeIds(), ElementsAre("n"));
  core_->ExpireSilentNodes(kStart + absl::Milliseconds(2600));
  EXPECT_THAT(NodeIds(), IsEmpty());
  EXPECT_TRUE(channel.closed());
  EXPECT_EQ(core_->Stats().nodes_expired(), 1u);
}

TEST_F(ControllerCoreTest, InspectionAndHeartbeatsDoNotWaitForPlanning) {
  // Planning is held up (the callback runs under the planning lock) while
  // an operator inspects and nodes send heartbeats.
  absl::Notification entered, release;
  std::atomic<bool> block{false};
  ControllerOptions options;
  options.on_planned = [&](const char*, absl::Duration) {
    if (!block.load()) return;
    entered.Notify();
    release.WaitForNotification();
  };
  Create(options);
  DrainingChannel a, b;
  auto sa = core_->Attach(Hello("a", 7000), &a, kStart);
  auto sb = core_->Attach(Hello("b", 7010), &b, kStart);
  ASSERT_TRUE(sa.ok() && sb.ok());
  core_->OnMembership(*sb, Joins({"g"}), kStart);
  core_->OnSources(*sa, Publishes("g", "s"), kStart);

  block = true;
  std::thread planning([&] { core_->OnMembership(*sa, Joins({"g"}, 2), kStart); });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  auto inspect = std::async(std::launch::async, [&] {
    core_->Touch(*sb, kStart + absl::Seconds(1));
    core_->OnHeartbeat(*sb, v1::Heartbeat(), kStart + absl::Seconds(1));
    EXPECT_THAT(core_->ListNodes().nodes(), SizeIs(2));
    EXPECT_TRUE(core_
                    ->GetTree([] {
                      v1::GetTreeRequest r;
                      r.set_group("g");
                      return r;
                    }())
                    .ok());
    EXPECT_TRUE(core_->ListMembers("g").ok());
    EXPECT_TRUE(core_->ListGroups().ok());
    EXPECT_EQ(core_->Stats().nodes(), 2u);
  });
  const bool answered = inspect.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  release.Notify();
  planning.join();
  inspect.wait();
  EXPECT_TRUE(answered) << "inspection waited for planning";
}

TEST_F(ControllerCoreTest, CutOffMemberIsToldAndHealsWhenTheRelayReturns) {
  ASSERT_TRUE(core_->SetStaticLinks({{"a", "b", 100}, {"b", "c", 100}}).ok());
  DrainingChannel a, b, c;
  auto sa = core_->Attach(Hello("a", 7000), &a, kStart);
  auto sc = core_->Attach(Hello("c", 7020), &c, kStart);
  ASSERT_TRUE(sa.ok() && sc.ok());
  core_->OnMembership(*sc, Joins({"g"}), kStart);
  core_->OnSources(*sa, Publishes("g", "s"), kStart);

  auto last_table = [](const DrainingChannel& ch) {
    v1::ForwardingTable t;
    for (const v1::NodeInstruction& i : ch.sent()) {
      if (i.has_table()) t = i.table();
    }
    return t;
  };
  v1::ForwardingTable tc = last_table(c);
  ASSERT_THAT(tc.cut_off(), SizeIs(1));
  EXPECT_EQ(tc.cut_off(0).source(), "s");
  EXPECT_THAT(tc.flows(), IsEmpty());
  auto members = core_->ListMembers("g");
  ASSERT_TRUE(members.ok());
  ASSERT_THAT(members->members(), SizeIs(1));
  EXPECT_THAT(members->members(0).cut_off(), SizeIs(1));
  EXPECT_EQ(core_->Stats().unreachable_members(), 1u);
  v1::GetTreeRequest request;
  request.set_group("g");
  auto tree = core_->GetTree(request);
  ASSERT_TRUE(tree.ok());
  ASSERT_THAT(tree->trees(), SizeIs(1));
  EXPECT_THAT(tree->trees(0).unreachable(), SizeIs(1));

  ASSERT_TRUE(core_->Attach(Hello("b", 7010), &b, kStart).ok());
  tc = last_table(c);
  EXPECT_THAT(tc.cut_off(), IsEmpty());
  ASSERT_THAT(tc.flows(), SizeIs(1));
  EXPECT_EQ(tc.flows(0).parent(), "b");
  EXPECT_EQ(core_->Stats().unreachable_members(), 0u);
}

TEST_F(ControllerCoreTest, TablesCarryTheTermAndWaitWhileTheLeaseIsUnconfirmed) {
  FakeLeadership leadership;
  ControllerOptions options;
  options.leadership = &leadership;
  Create(options);
  DrainingChannel a, b;
  auto sa = core_->Attach(Hello("a", 7000), &a, kStart);
  auto sb = core_->Attach(Hello("b", 7010), &b, kStart);
  ASSERT_TRUE(sa.ok() && sb.ok());
  // Who leads comes first on every stream.
  ASSERT_FALSE(a.sent().empty());
  ASSERT_TRUE(a.sent().front().has_leader());
  EXPECT_EQ(a.sent().front().leader().term(), 7u);
  core_->OnSources(*sa, Publishes("g", "s"), kStart);
  core_->OnMembership(*sa, Joins({}), kStart);
  core_->OnMembership(*sb, Joins({"g"}), kStart);
  ASSERT_THAT(Tables(b.sent()), Not(IsEmpty()));
  for (const v1::ForwardingTable& t : Tables(b.sent())) EXPECT_EQ(t.term(), 7u);
  const size_t b_tables = Tables(b.sent()).size();
  const size_t a_tables = Tables(a.sent()).size();

  // The lease cannot be confirmed (a paused leader waking up): a change is
  // planned but no table leaves, nor a beat.
  leadership.Set(false);
  core_->OnMembership(*sb, Joins({}, 2), kStart);
  core_->Beat(kStart);
  EXPECT_EQ(Tables(b.sent()).size(), b_tables);
  EXPECT_EQ(Tables(a.sent()).size(), a_tables);

  // Confirmed again: the next beat pushes what was held back.
  leadership.Set(true);
  core_->Beat(kStart + absl::Milliseconds(500));
  EXPECT_GT(Tables(b.sent()).size() + Tables(a.sent()).size(), b_tables + a_tables);
  EXPECT_TRUE(b.sent().back().has_leader());
  core_.reset();  // before the leadership it uses
}

TEST_F(ControllerCoreTest, SteppingDownClosesEverySession) {
  FakeLeadership leadership;
  ControllerOptions options;
  options.leadership = &leadership;
  Create(options);
  DrainingChannel a;
  ASSERT_TRUE(core_->Attach(Hello("a", 7000), &a, kStart).ok());
  core_->StepDown();
  EXPECT_TRUE(a.closed());
  EXPECT_THAT(NodeIds(), IsEmpty());
  core_.reset();  // before the leadership it uses
}

}  // namespace
}  // namespace canopy::controller
