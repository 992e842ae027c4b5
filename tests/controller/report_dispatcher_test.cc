#include "controller/report_dispatcher.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::ElementsAre;

class CountingChannel final : public NodeChannel {
 public:
  bool Send(const v1::NodeInstruction&) override { return true; }
  void Close() override {}
};

v1::NodeReport Membership(uint64_t seq, const std::string& group) {
  v1::NodeReport r;
  r.mutable_membership()->set_report_seq(seq);
  v1::GroupMembership* m = r.mutable_membership()->add_groups();
  m->set_group(group);
  m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
  return r;
}

TEST(ReportDispatcherTest, ReportsWaitCoalescedWhilePlanningIsBusy) {
  absl::Notification entered, release;
  std::atomic<bool> block{false};
  ControllerOptions options;
  std::atomic<int> membership_plans{0};
  options.on_planned = [&](const char* event, absl::Duration) {
    if (std::string(event) == "membership") ++membership_plans;
    if (!block.load()) return;
    block = false;
    entered.Notify();
    release.WaitForNotification();
  };
  auto store = PolicyStore::Open(":memory:");
  ASSERT_TRUE(store.ok());
  auto core = ControllerCore::Create(options, **store);
  ASSERT_TRUE(core.ok());
  ReportDispatcher dispatcher(**core);

  absl::Notification attached;
  uint64_t session = 0;
  v1::NodeHello hello;
  hello.set_node_id("n");
  hello.set_data_address("127.0.0.1:7000");
  hello.set_client_address("127.0.0.1:7001");
  dispatcher.Attach(hello, std::make_shared<CountingChannel>(), absl::Now(),
                    [&](absl::StatusOr<uint64_t> s) {
                      ASSERT_TRUE(s.ok());
                      session = *s;
                      attached.Notify();
                    });
  ASSERT_TRUE(attached.WaitForNotificationWithTimeout(absl::Seconds(30)));

  block = true;
  dispatcher.Report(session, Membership(1, "first"), absl::Now());
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // While the first is planned, a flood of reports waits as one.
  for (int i = 2; i <= 1000; ++i) {
    dispatcher.Report(session, Membership(i, "g" + std::to_string(i)), absl::Now());
  }
  EXPECT_EQ(dispatcher.pending(), 1u);
  release.Notify();
  dispatcher.Detach(session);
  // Detach comes after the reports: once the node is gone, all was planned.
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       !(*core)->ListNodes().nodes().empty() && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE((*core)->ListNodes().nodes().empty());
  EXPECT_EQ(membership_plans.load(), 2);  // the first, then the newest only
  dispatcher.Stop();
}

}  // namespace
}  // namespace canopy::controller
