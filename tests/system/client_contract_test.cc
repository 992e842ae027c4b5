// What a client is told when it asks wrongly: pointed at the wrong kind of
// Canopy server, every client says which kind it reached instead of an
// empty UNIMPLEMENTED; an announcing Publication that carries a payload is
// refused rather than dropped.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "canopy/v1/node.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/system/overlay.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

TEST(ClientContractTest, ClientsPointedAtTheControllerSayItIsNotANode) {
  Overlay overlay;
  const std::string controller = overlay.controller_address();
  const std::string says = controller + " is a Canopy controller, not a node";
  const std::string file = overlay.WriteFile("object.bin", "an object");
  const std::filesystem::path out = std::filesystem::path(file).parent_path() / "out";
  std::filesystem::create_directories(out);
  const std::vector<std::vector<std::string>> clients = {
      {BinaryPath("canopy-sub"), "--node", controller, "--group", "g"},
      {BinaryPath("canopy-sub"), "--node", controller, "--group", "g", "--transport", "grpc"},
      {BinaryPath("canopy-pub"), "--node", controller, "--group", "g"},
      {BinaryPath("canopy-pub"), "--node", controller, "--group", "g", "--transport", "grpc"},
      {BinaryPath("canopy-send"), file, "--node", controller, "--group", "g"},
      {BinaryPath("canopy-recv"), "--node", controller, "--group", "g", "--out", out.string()},
  };
  for (const auto& argv : clients) {
    Process client(argv);
    client.CloseStdin();
    EXPECT_EQ(client.Wait(kWait), 1) << argv[0] << ": " << client.Stderr();
    EXPECT_THAT(client.Stderr(), HasSubstr(says)) << argv[0];
  }
}

TEST(ClientContractTest, CanopyctlAndANodePointedAtANodeSayItIsNotAController) {
  Overlay overlay;
  const std::string node = overlay.StartNode("real");
  ASSERT_FALSE(node.empty());
  const std::string says = node + " is a Canopy node, not a controller";
  Process ctl({BinaryPath("canopyctl"), "--controller", node, "nodes"});
  EXPECT_EQ(ctl.Wait(kWait), 1);
  EXPECT_EQ(ctl.Stderr(), "canopyctl: UNIMPLEMENTED: " + says);  // one line

  Process misled({BinaryPath("canopy-node"), "--id", "misled", "--controller", node, "--listen",
                  "127.0.0.1:0", "--data", "127.0.0.1:0", "--discovery-interval-ms", "0"});
  EXPECT_TRUE(misled.WaitForStderr(says, kWait)) << misled.Stderr();
}

TEST(ClientContractTest, AnAnnouncementWithAPayloadIsRefused) {
  Overlay overlay;
  const std::string node = overlay.StartNode("node-a");
  ASSERT_FALSE(node.empty());
  auto stub = v1::Node::NewStub(grpc::CreateChannel(node, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::PublishSummary summary;
  auto writer = stub->Publish(&context, &summary);
  v1::Publication opening;
  opening.set_group("g");
  opening.set_source("s");
  opening.set_announce(true);
  opening.set_payload("not to be dropped");
  writer->Write(opening);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("announcing Publication carries no payload"));
  EXPECT_EQ(summary.messages(), 0u);
}

}  // namespace
}  // namespace canopy::testing
