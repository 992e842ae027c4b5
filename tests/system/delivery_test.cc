// End-to-end: real controller, nodes, publishers and subscribers on loopback.

#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Numbered(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(absl::StrFormat("%s-%05d", prefix, i));
  return out;
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

bool IsMember(const v1::ListGroupsResponse& r, const std::string& group, const std::string& node) {
  for (const auto& g : r.groups()) {
    if (g.group() != group) continue;
    for (const auto& n : g.member_nodes()) {
      if (n == node) return true;
    }
  }
  return false;
}

TEST(DeliveryTest, TenThousandMessagesReachBothSubscribersExactlyOnceInOrder) {
  Overlay overlay;
  overlay.StartNode("node-a", /*max_fanout=*/1);  // forces a relay chain
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto sub_b = overlay.StartSubscriber("node-b", {"--group", "demo", "--count", "10000"});
  auto sub_c = overlay.StartSubscriber("node-c", {"--group", "demo", "--count", "10000"});
  ASSERT_TRUE(sub_b->WaitForStderr("joined", kWait)) << sub_b->Stderr();
  ASSERT_TRUE(sub_c->WaitForStderr("joined", kWait)) << sub_c->Stderr();

  const std::vector<std::string> messages = Numbered("m", 1, 10000);
  const std::vector<std::string> first_half(messages.begin(), messages.begin() + 5000);
  const std::vector<std::string> second_half(messages.begin() + 5000, messages.end());
  auto pub = overlay.StartPublisher("node-a", "demo", "trainer");
  ASSERT_TRUE(pub->WriteStdin(Lines(first_half)));
  ASSERT_TRUE(sub_b->WaitForStdoutLines(5000, kWait)) << sub_b->Stderr();
  ASSERT_TRUE(sub_c->WaitForStdoutLines(5000, kWait)) << sub_c->Stderr();

  // While the source and both subscribers are live, the tree honours
  // node-a's fan-out of 1: a → x → y.
  grpc::ClientContext context;
  v1::GetTreeRequest request;
  request.set_group("demo");
  v1::GetTreeResponse tree;
  ASSERT_TRUE(overlay.stub().GetTree(&context, request, &tree).ok());
  ASSERT_EQ(tree.trees_size(), 1);
  EXPECT_EQ(tree.trees(0).root(), "node-a");
  ASSERT_EQ(tree.trees(0).edges_size(), 2);
  int from_a = 0;
  for (const auto& e : tree.trees(0).edges()) from_a += e.parent() == "node-a";
  EXPECT_EQ(from_a, 1);

  ASSERT_TRUE(pub->WriteStdin(Lines(second_half)));
  ASSERT_EQ(sub_b->Wait(kWait), 0) << sub_b->Stderr();
  ASSERT_EQ(sub_c->Wait(kWait), 0) << sub_c->Stderr();
  EXPECT_EQ(sub_b->StdoutLines(), messages);
  EXPECT_EQ(sub_c->StdoutLines(), messages);

  pub->CloseStdin();
  ASSERT_EQ(pub->Wait(kWait), 0) << pub->Stderr();
  EXPECT_THAT(pub->Stderr(), HasSubstr("10000 messages"));
}

TEST(DeliveryTest, CancelledSubscriberStopsWhileTheOtherContinues) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto s1 = Subscriber::Open({overlay.client_address("node-b"), "g"});
  auto s2 = Subscriber::Open({overlay.client_address("node-c"), "g"});
  ASSERT_TRUE(s1.ok() && s2.ok());
  ASSERT_TRUE((*s1)->WaitJoined(kWait).ok());
  ASSERT_TRUE((*s2)->WaitJoined(kWait).ok());

  auto pub = Publisher::Open({overlay.client_address("node-a"), "g", "trainer"});
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (const auto& m : Numbered("first", 1, 50)) ASSERT_TRUE((*pub)->Send(m).ok());
  for (const auto& m : Numbered("first", 1, 50)) {
    auto r1 = (*s1)->Next(kWait);
    auto r2 = (*s2)->Next(kWait);
    ASSERT_TRUE(r1.ok() && r2.ok());
    EXPECT_EQ(r1->payload, m);
    EXPECT_EQ(r2->payload, m);
    EXPECT_EQ(r2->source, "trainer");
  }

  (*s1)->Cancel();
  EXPECT_EQ((*s1)->Next(kWait).status().code(), absl::StatusCode::kCancelled);
  // The leave reaches the controller: node-b is pruned from the group.
  ASSERT_TRUE(overlay.AwaitGroups([](const v1::ListGroupsResponse& r) {
    return !IsMember(r, "g", "node-b") && IsMember(r, "g", "node-c");
  }));

  for (const auto& m : Numbered("second", 1, 50)) ASSERT_TRUE((*pub)->Send(m).ok());
  for (const auto& m : Numbered("second", 1, 50)) {
    auto r2 = (*s2)->Next(kWait);
    ASSERT_TRUE(r2.ok()) << r2.status();
    EXPECT_EQ(r2->payload, m);
  }
  auto summary = (*pub)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->messages, 100u);
  EXPECT_EQ(summary->first_sequence + 99, summary->last_sequence);
}

TEST(DeliveryTest, DisallowedPublisherIsRefusedAndAllowedOneDelivers) {
  Overlay overlay;
  ASSERT_TRUE(overlay.SetAllowList("secure", {"trainer"}).ok());
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  auto sub = overlay.StartSubscriber("node-b", {"--group", "secure", "--count", "1"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << sub->Stderr();

  auto intruder = overlay.StartPublisher("node-a", "secure", "intruder");
  intruder->WriteStdin("evil\n");
  intruder->CloseStdin();
  EXPECT_EQ(intruder->Wait(kWait), 1);
  EXPECT_THAT(intruder->Stderr(), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(intruder->Stderr(), HasSubstr("intruder"));

  auto trainer = overlay.StartPublisher("node-a", "secure", "trainer");
  trainer->WriteStdin("weights-v2\n");
  trainer->CloseStdin();
  ASSERT_EQ(trainer->Wait(kWait), 0) << trainer->Stderr();
  ASSERT_EQ(sub->Wait(kWait), 0) << sub->Stderr();
  EXPECT_EQ(sub->StdoutLines(), std::vector<std::string>{"weights-v2"});
}

TEST(DeliveryTest, KillingOneSubscriberProcessDoesNotDisturbTheOther) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto victim = overlay.StartSubscriber("node-b", {"--group", "g"});
  auto survivor = overlay.StartSubscriber("node-c", {"--group", "g"});
  ASSERT_TRUE(victim->WaitForStderr("joined", kWait));
  ASSERT_TRUE(survivor->WaitForStderr("joined", kWait));

  auto pub = overlay.StartPublisher("node-a", "g", "trainer");
  ASSERT_TRUE(pub->WriteStdin(Lines(Numbered("x", 1, 100))));
  ASSERT_TRUE(victim->WaitForStdoutLines(100, kWait));
  ASSERT_TRUE(survivor->WaitForStdoutLines(100, kWait));
  victim->Signal(SIGKILL);
  ASSERT_TRUE(victim->Wait(kWait).has_value());

  ASSERT_TRUE(pub->WriteStdin(Lines(Numbered("x", 101, 200))));
  pub->CloseStdin();
  ASSERT_EQ(pub->Wait(kWait), 0) << pub->Stderr();
  ASSERT_TRUE(survivor->WaitForStdoutLines(200, kWait)) << overlay.Logs();
  EXPECT_EQ(survivor->StdoutLines(), Numbered("x", 1, 200));
  EXPECT_TRUE(overlay.node("node-b").running());
}

TEST(DeliveryTest, SourceFiltersAdmitOnlyTheChosenSources) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto only_trainer =
      overlay.StartSubscriber("node-b", {"--group", "g", "--include", "trainer", "--with-source"});
  auto all_but_trainer =
      overlay.StartSubscriber("node-c", {"--group", "g", "--exclude", "trainer", "--with-source"});
  ASSERT_TRUE(only_trainer->WaitForStderr("joined", kWait));
  ASSERT_TRUE(all_but_trainer->WaitForStderr("joined", kWait));

  for (const std::string source : {"trainer", "other"}) {
    auto pub = overlay.StartPublisher("node-a", "g", source);
    pub->WriteStdin("a\nb\nfence\n");
    pub->CloseStdin();
    ASSERT_EQ(pub->Wait(kWait), 0) << pub->Stderr();
  }
  ASSERT_TRUE(only_trainer->WaitForStdout("trainer 3 fence", kWait))
      << Lines(only_trainer->StdoutLines()) << overlay.Logs();
  ASSERT_TRUE(all_but_trainer->WaitForStdout("other 3 fence", kWait))
      << Lines(all_but_trainer->StdoutLines()) << overlay.Logs();
  EXPECT_EQ(only_trainer->StdoutLines(),
            (std::vector<std::string>{"trainer 1 a", "trainer 2 b", "trainer 3 fence"}));
  EXPECT_EQ(all_but_trainer->StdoutLines(),
            (std::vector<std::string>{"other 1 a", "other 2 b", "other 3 fence"}));
}

TEST(CommandLineTest, EveryBinaryAnswersHelpAndRejectsBadFlags) {
  for (const std::string name :
       {"canopy-controller", "canopy-node", "canopy-pub", "canopy-sub", "canopyctl"}) {
    Process help({BinaryPath(name), "--help"});
    EXPECT_EQ(help.Wait(kWait), 0) << name;
    EXPECT_THAT(Lines(help.StdoutLines()), HasSubstr("--")) << name;
    Process bad({BinaryPath(name), "--no-such-flag"});
    EXPECT_EQ(bad.Wait(kWait), 2) << name;
    EXPECT_THAT(bad.Stderr(), HasSubstr(name)) << name;
  }
}

TEST(CommandLineTest, CanopyctlReportsUnknownGroupAndUnreachableController) {
  Overlay overlay;
  Process unknown({BinaryPath("canopyctl"), "--controller", overlay.controller_address(), "tree",
                   "nobody-here"});
  EXPECT_EQ(unknown.Wait(kWait), 1);
  EXPECT_THAT(unknown.Stderr(), HasSubstr("nobody-here"));
  Process bad_name(
      {BinaryPath("canopyctl"), "--controller", overlay.controller_address(), "tree", "bad group"});
  EXPECT_EQ(bad_name.Wait(kWait), 1);
  EXPECT_THAT(bad_name.Stderr(), HasSubstr("group name"));
}

}  // namespace
}  // namespace canopy::testing
