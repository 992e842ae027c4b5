// No one stalls the controller: a node that attaches, joins and publishes
// to thousands of groups and never reads its stream leaves canopyctl
// answering within a second and joins on other nodes planned, and is
// itself disconnected.

#include "tests/system/stuck_node.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

TEST(StuckNodeTest, ControllerAnswersAndPlansWhileOneNodeNeverReads) {
  Overlay overlay({"--drain-timeout-ms", "3000"});
  ASSERT_FALSE(overlay.StartNode("a").empty());
  ASSERT_FALSE(overlay.StartNode("b").empty());
  StuckNode stuck(overlay.controller_address(), "stuck", 3000);
  ASSERT_TRUE(overlay.AwaitNodeListed("stuck"));

  // Inspection answers within a second, every time.
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::ControllerStats stats;
    const grpc::Status s = overlay.stub().GetStats(&context, {}, &stats);
    ASSERT_TRUE(s.ok()) << "GetStats #" << i << ": " << s.error_message();
    grpc::ClientContext nodes_context;
    nodes_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::ListNodesResponse nodes;
    ASSERT_TRUE(overlay.stub().ListNodes(&nodes_context, {}, &nodes).ok()) << "ListNodes #" << i;
  }
  // Joins elsewhere are planned and carry data.
  std::unique_ptr<Process> sub = overlay.StartSubscriber("b", {"--group", "live"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << overlay.Logs();
  std::unique_ptr<Process> pub = overlay.StartPublisher("a", "live", "p");
  pub->WriteStdin("through\n");
  ASSERT_TRUE(sub->WaitForStdout("through", kWait)) << overlay.Logs();
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0);

  // The node that never reads is disconnected.
  ASSERT_TRUE(overlay.AwaitNodeListed("stuck", /*listed=*/false)) << overlay.Logs();
  grpc::ClientContext context;
  v1::ControllerStats stats;
  ASSERT_TRUE(overlay.stub().GetStats(&context, {}, &stats).ok());
  EXPECT_GE(stats.nodes_disconnected_stuck(), 1u);
  EXPECT_EQ(stats.nodes_expired(), 0u);  // it was alive, only not reading
}

}  // namespace
}  // namespace canopy::testing
