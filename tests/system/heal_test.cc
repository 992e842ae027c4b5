// Trees heal: on a chain with no detour (static links a–b, b–c), a
// `reliable` stream from a publisher at a to a subscriber at c survives the
// middle node's death and restart, its freezing, and controller restarts
// with the nodes coming back in any order — every message exactly once and
// in order, or a gap line for exactly what is missing. While c is cut off,
// the controller, canopyctl and the subscriber say so.

#include <algorithm>
#include <csignal>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr char kChain[] = "a b 100\nb c 100\n";
constexpr int kBatch = 200;

class HealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"a", "b", "c"}) {
      ASSERT_FALSE(overlay_.StartNode(id, 0, {"--probe-interval-ms", "0"}).empty());
    }
    ASSERT_TRUE(stream_.Start()) << overlay_.Logs();
    stream_.Publish(kBatch);
    ASSERT_TRUE(stream_.AwaitDelivered()) << overlay_.Logs();
  }
  void TearDown() override {
    const StreamVerdict v = stream_.Verdict();
    EXPECT_TRUE(v.ok()) << v.ToString() << "\n" << overlay_.Logs();
  }

  // The controller's view of c for the stream's source.
  bool CIsCutOff() {
    v1::GetTreeResponse tree;
    return overlay_.AwaitTree(
        "g",
        [](const v1::GetTreeResponse& t) {
          return t.trees_size() == 1 && t.trees(0).unreachable_size() == 1 &&
                 t.trees(0).unreachable(0).node_id() == "c";
        },
        &tree);
  }
  bool CIsServed() {
    return overlay_.AwaitTree("g", [](const v1::GetTreeResponse& t) {
      if (t.trees_size() != 1 || t.trees(0).unreachable_size() != 0) return false;
      return std::count(t.trees(0).receivers().begin(), t.trees(0).receivers().end(), "c") == 1;
    });
  }

  // The nodes reconnect by their own backoff; liveness 600 ms keeps the
  // faults short.
  Overlay overlay_{{"--liveness-ms", "600"}, kChain};
  NumberedStream stream_{overlay_, "a", "c", "g"};
};

TEST_F(HealTest, MiddleNodeKilledAndRestartedWithTheSameIdAndPorts) {
  overlay_.KillNode("b");
  ASSERT_TRUE(CIsCutOff()) << overlay_.Logs();
  // Visible: canopyctl members, and the subscriber's own line.
  grpc::ClientContext context;
  v1::ListMembersRequest request;
  request.set_group("g");
  v1::ListMembersResponse members;
  ASSERT_TRUE(overlay_.stub().ListMembers(&context, request, &members).ok());
  ASSERT_EQ(members.members_size(), 1);
  ASSERT_EQ(members.members(0).cut_off_size(), 1);
  EXPECT_TRUE(absl::StrContains(members.members(0).cut_off(0).reason(), "no overlay path from a"))
      << members.members(0).cut_off(0).reason();
  EXPECT_TRUE(stream_.subscriber().WaitForStderr("cut off from source src of g", kWait))
      << stream_.subscriber().Stderr();

  stream_.Publish(kBatch);  // published while the only path is down
  overlay_.StartNodeAgain("b");
  ASSERT_TRUE(CIsServed()) << overlay_.Logs();
  stream_.Publish(kBatch);
  ASSERT_TRUE(stream_.AwaitDelivered()) << overlay_.Logs();
  EXPECT_TRUE(stream_.subscriber().WaitForStderr("source src of g reachable again", kWait));
  EXPECT_EQ(stream_.Verdict().declared_lost, 0u);  // the rings held everything
}

TEST_F(HealTest, MiddleNodeKilledMidStream) {
  stream_.Publish(kBatch);
  overlay_.RestartNode("b");
  stream_.Publish(kBatch);
  ASSERT_TRUE(stream_.AwaitDelivered()) << overlay_.Logs();
}

TEST_F(HealTest, MiddleNodeFrozenUntilDeclaredDead) {
  overlay_.node("b").Signal(SIGSTOP);
  stream_.Publish(kBatch);
  // Frozen long enough to be declared dead and planned around.
  const bool cut = CIsCutOff();
  stream_.Publish(kBatch);
  overlay_.node("b").Signal(SIGCONT);
  ASSERT_TRUE(cut) << overlay_.Logs();
  ASSERT_TRUE(CIsServed()) << overlay_.Logs();
  stream_.Publish(kBatch);
  ASSERT_TRUE(stream_.AwaitDelivered()) << overlay_.Logs();
  EXPECT_EQ(stream_.Verdict().declared_lost, 0u);
}

// The controller restarts (SIGTERM, then kill -9) ten times each while the
// stream flows; the nodes come back in a random order each time, the
// ingress often before the relay it needs.
TEST_F(HealTest, ControllerRestartsWithNodesReattachingInRandomOrder) {
  std::mt19937 random(20261207);
  std::vector<std::string> order = {"a", "b", "c"};
  for (int round = 0; round < 20; ++round) {
    const int signal = round < 10 ? SIGTERM : SIGKILL;
    for (const std::string& id : order) overlay_.node(id).Signal(SIGSTOP);
    stream_.Publish(kBatch / 4);  // waits in the publisher's socket
    ASSERT_TRUE(overlay_.RestartController(signal)) << overlay_.Logs();
    std::shuffle(order.begin(), order.end(), random);
    for (const std::string& id : order) {
      overlay_.node(id).Signal(SIGCONT);
      ASSERT_TRUE(overlay_.AwaitNodeListed(id))
          << "round " << round << ": " << id << " did not re-attach\n"
          << overlay_.Logs();
    }
    stream_.Publish(kBatch / 4);
    ASSERT_TRUE(stream_.AwaitDelivered())
        << "round " << round << " (order " << order[0] << order[1] << order[2] << ")\n"
        << overlay_.Logs();
  }
  EXPECT_EQ(stream_.FinishPublisher(), 0) << stream_.publisher().Stderr();
}

}  // namespace
}  // namespace canopy::testing
