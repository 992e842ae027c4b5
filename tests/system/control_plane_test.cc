// The control plane under change: node death, controller restart, static
// links, duplicate ids, and canopyctl against a live controller.

#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "canopy/v1/node.grpc.pb.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

std::string Lines(const std::string& prefix, int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += absl::StrFormat("%s-%04d\n", prefix, i);
  return out;
}

std::vector<std::string> LineVector(const std::string& prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(absl::StrFormat("%s-%04d", prefix, i));
  return out;
}

std::string ParentOf(const v1::GetTreeResponse& tree, const std::string& child) {
  for (const auto& t : tree.trees()) {
    for (const auto& e : t.edges()) {
      if (e.child() == child) return e.parent();
    }
  }
  return "";
}

TEST(ControlPlaneTest, DeadRelayIsRoutedAroundAndDeliveryContinues) {
  Overlay overlay;
  overlay.StartNode("node-a", /*max_fanout=*/1);
  overlay.StartNode("node-b", 1);
  overlay.StartNode("node-c", 1);
  auto sub_b = overlay.StartSubscriber("node-b", {"--group", "g"});
  auto sub_c = overlay.StartSubscriber("node-c", {"--group", "g"});
  ASSERT_TRUE(sub_b->WaitForStderr("joined", kWait));
  ASSERT_TRUE(sub_c->WaitForStderr("joined", kWait));
  auto pub = overlay.StartPublisher("node-a", "g", "trainer");
  ASSERT_TRUE(pub->WriteStdin(Lines("before", 1, 100)));
  ASSERT_TRUE(sub_b->WaitForStdoutLines(100, kWait));
  ASSERT_TRUE(sub_c->WaitForStdoutLines(100, kWait));

  v1::GetTreeResponse tree;
  ASSERT_TRUE(overlay.AwaitTree("g", [](const auto& t) { return t.trees_size() == 1; }, &tree));
  const std::string relay = ParentOf(tree, "node-b") == "node-a" ? "node-b" : "node-c";
  const std::string leaf = relay == "node-b" ? "node-c" : "node-b";
  ASSERT_EQ(ParentOf(tree, leaf), relay) << tree.DebugString();
  Process& leaf_sub = leaf == "node-b" ? *sub_b : *sub_c;

  overlay.KillNode(relay);
  // Declared dead after missed heartbeats; the leaf is re-parented to a.
  ASSERT_TRUE(overlay.AwaitTree(
      "g", [&](const auto& t) { return ParentOf(t, leaf) == "node-a"; }, &tree))
      << tree.DebugString() << overlay.Logs();
  // Once the survivors applied their new tables nothing sent is lost.
  ASSERT_TRUE(overlay.AwaitTablesApplied()) << overlay.Logs();

  ASSERT_TRUE(pub->WriteStdin(Lines("after", 1, 100)));
  ASSERT_TRUE(leaf_sub.WaitForStdout("after-0100", kWait)) << overlay.Logs();
  std::vector<std::string> got = leaf_sub.StdoutLines();
  std::vector<std::string> want = LineVector("before", 1, 100);
  std::vector<std::string> after = LineVector("after", 1, 100);
  want.insert(want.end(), after.begin(), after.end());
  EXPECT_EQ(got, want);
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0) << pub->Stderr();
}

TEST(ControlPlaneTest, ControllerRestartKeepsPolicyAndDelivery) {
  Overlay overlay;
  ASSERT_TRUE(overlay.SetAllowList("g", {"trainer"}).ok());
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  auto sub = overlay.StartSubscriber("node-b", {"--group", "g"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait));
  auto pub = overlay.StartPublisher("node-a", "g", "trainer");
  ASSERT_TRUE(pub->WriteStdin(Lines("one", 1, 50)));
  ASSERT_TRUE(sub->WaitForStdoutLines(50, kWait));

  // While the controller is away the data plane keeps its last tables.
  overlay.StopController();
  ASSERT_TRUE(pub->WriteStdin(Lines("two", 1, 50)));
  ASSERT_TRUE(sub->WaitForStdoutLines(100, kWait)) << overlay.Logs();

  ASSERT_TRUE(overlay.RestartController());
  // Nodes re-attach and re-report: the tree comes back from soft state.
  ASSERT_TRUE(overlay.AwaitTree("g", [](const v1::GetTreeResponse& t) {
    return t.trees_size() == 1 && t.trees(0).receivers_size() == 1;
  })) << overlay.Logs();
  grpc::ClientContext context;
  v1::GetPolicyRequest request;
  request.set_group("g");
  v1::GroupPolicy policy;
  ASSERT_TRUE(overlay.stub().GetPolicy(&context, request, &policy).ok());
  EXPECT_THAT(policy.allowed_sources(), ::testing::ElementsAre("trainer"));

  ASSERT_TRUE(pub->WriteStdin(Lines("three", 1, 50)));
  ASSERT_TRUE(sub->WaitForStdoutLines(150, kWait)) << overlay.Logs();
  std::vector<std::string> want = LineVector("one", 1, 50);
  for (const char* p : {"two", "three"}) {
    auto more = LineVector(p, 1, 50);
    want.insert(want.end(), more.begin(), more.end());
  }
  EXPECT_EQ(sub->StdoutLines(), want);

  // The restored allow-list still refuses an intruder.
  auto intruder = overlay.StartPublisher("node-a", "g", "intruder");
  intruder->WriteStdin("x\n");
  intruder->CloseStdin();
  EXPECT_EQ(intruder->Wait(kWait), 1);
  EXPECT_THAT(intruder->Stderr(), HasSubstr("PERMISSION_DENIED"));
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0);
}

TEST(ControlPlaneTest, StaticLinksDecideTheRelays) {
  Overlay probe;  // only to get a temporary directory for the links file
  const std::string links =
      probe.WriteFile("links.txt", "# a line of tunnels\nnode-a node-b 300\nnode-b node-c 400\n");
  Overlay overlay({"--links", links});
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  overlay.StartNode("node-c");
  auto sub = overlay.StartSubscriber("node-c", {"--group", "g"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait));
  auto pub = overlay.StartPublisher("node-a", "g", "s");
  pub->WriteStdin("x\ny\nz\n");
  ASSERT_TRUE(sub->WaitForStdoutLines(3, kWait)) << overlay.Logs();
  EXPECT_EQ(sub->StdoutLines(), (std::vector<std::string>{"x", "y", "z"}));
  v1::GetTreeResponse tree;
  ASSERT_TRUE(overlay.AwaitTree(
      "g", [](const auto& t) { return t.trees_size() == 1 && t.trees(0).edges_size() == 2; },
      &tree))
      << tree.DebugString();
  EXPECT_EQ(ParentOf(tree, "node-c"), "node-b");
  EXPECT_EQ(ParentOf(tree, "node-b"), "node-a");
  EXPECT_EQ(tree.trees(0).cost(), 700);
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0);
}

TEST(ControlPlaneTest, ProbedRttsBecomeTheTreesLinkCosts) {
  // Without measurements every full-mesh link costs 1000 µs; loopback RTTs
  // probed by the nodes are far below that.
  Overlay overlay({"--reoptimize-ms", "300"});
  overlay.StartNode("node-a", 0, {"--probe-interval-ms", "100"});
  overlay.StartNode("node-b", 0, {"--probe-interval-ms", "100"});
  auto sub = overlay.StartSubscriber("node-b", {"--group", "g"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait));
  auto pub = overlay.StartPublisher("node-a", "g", "s");
  pub->WriteStdin("x\n");
  ASSERT_TRUE(sub->WaitForStdoutLines(1, kWait)) << overlay.Logs();
  v1::GetTreeResponse tree;
  EXPECT_TRUE(overlay.AwaitTree(
      "g",
      [](const auto& t) {
        return t.trees_size() == 1 && t.trees(0).edges_size() == 1 &&
               t.trees(0).edges(0).cost() > 0 && t.trees(0).edges(0).cost() < 1000;
      },
      &tree))
      << tree.DebugString() << overlay.Logs();
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0);
}

TEST(ControlPlaneTest, MalformedLinksFileAndCorruptStoreStopTheController) {
  Overlay probe;
  const std::string links = probe.WriteFile("bad-links.txt", "node-a node-b\n");
  Process bad_links({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store",
                     probe.WriteFile("fresh.db", ""), "--links", links});
  EXPECT_EQ(bad_links.Wait(kWait), 1);
  EXPECT_THAT(bad_links.Stderr(), HasSubstr("line 1"));

  const std::string store = probe.WriteFile("corrupt.db", std::string(8192, 'x'));
  Process corrupt({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store", store});
  EXPECT_EQ(corrupt.Wait(kWait), 1);
  EXPECT_THAT(corrupt.Stderr(), HasSubstr("corrupt.db"));
}

TEST(ControlPlaneTest, SecondLiveNodeWithTheSameIdIsRefused) {
  Overlay overlay;
  overlay.StartNode("node-a");
  Process twin({BinaryPath("canopy-node"), "--id", "node-a", "--controller",
                overlay.controller_address()});
  EXPECT_TRUE(twin.WaitForStderr("in use by a live node", kWait)) << twin.Stderr();
  EXPECT_TRUE(overlay.node("node-a").running());
  grpc::ClientContext context;
  v1::ListNodesResponse nodes;
  ASSERT_TRUE(overlay.stub().ListNodes(&context, {}, &nodes).ok());
  ASSERT_EQ(nodes.nodes_size(), 1);
}

TEST(ControlPlaneTest, NodeRefusesMalformedFilters) {
  Overlay overlay;
  const std::string address = overlay.StartNode("node-a");
  auto stub = v1::Node::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  struct Case {
    v1::SubscribeRequest request;
    const char* says;
  };
  std::vector<Case> cases(3);
  cases[0].request.set_group("g");
  cases[0].request.mutable_filter()->set_mode(static_cast<v1::FilterMode>(9));
  cases[0].says = "filter mode";
  cases[1].request.set_group("g");
  for (int i = 0; i < 2000; ++i) cases[1].request.mutable_filter()->add_sources("s" + std::to_string(i));
  cases[1].says = "limit is 1024";
  cases[2].request.set_group("no spaces allowed");
  cases[2].says = "group name";
  for (const Case& c : cases) {
    grpc::ClientContext context;
    auto reader = stub->Subscribe(&context, c.request);
    v1::Delivery d;
    EXPECT_FALSE(reader->Read(&d));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.says;
    EXPECT_THAT(s.error_message(), HasSubstr(c.says));
  }
  EXPECT_TRUE(overlay.node("node-a").running());
}

TEST(ControlPlaneTest, CanopyctlShowsMembersStatsAndWatchesChanges) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  auto sub = overlay.StartSubscriber("node-b", {"--group", "g", "--include", "trainer"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait));

  Process members({BinaryPath("canopyctl"), "--controller", overlay.controller_address(),
                   "members", "g"});
  ASSERT_EQ(members.Wait(kWait), 0) << members.Stderr();
  ASSERT_EQ(members.StdoutLines().size(), 1u);
  EXPECT_THAT(members.StdoutLines()[0], HasSubstr("node-b"));
  EXPECT_THAT(members.StdoutLines()[0], HasSubstr("INCLUDE {trainer}"));

  Process watch({BinaryPath("canopyctl"), "--controller", overlay.controller_address(), "watch",
                 "g"});
  ASSERT_TRUE(watch.WaitForStdout("===", kWait));
  auto pub = overlay.StartPublisher("node-a", "g", "trainer");
  pub->WriteStdin("hello\n");
  // The new source's tree shows up in the watch.
  EXPECT_TRUE(watch.WaitForStdout("node-a  [ingress]", kWait))
      << watch.Stderr() << absl::StrJoin(watch.StdoutLines(), "\n") << overlay.Logs()
      << pub->Stderr();
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(kWait), 0);

  Process stats({BinaryPath("canopyctl"), "--controller", overlay.controller_address(), "stats",
                 "--format", "json"});
  ASSERT_EQ(stats.Wait(kWait), 0);
  std::string json;
  for (const auto& l : stats.StdoutLines()) json += l;
  EXPECT_THAT(json, HasSubstr("\"nodes\": 2"));
  EXPECT_THAT(json, HasSubstr("\"flows\": 1"));
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0);
}

}  // namespace
}  // namespace canopy::testing
