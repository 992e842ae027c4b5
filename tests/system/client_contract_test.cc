// What a client is told when it asks wrongly: pointed at the wrong kind of
// Canopy server, every client says which kind it reached instead of an
// empty UNIMPLEMENTED; an announcing Publication that carries a payload is
// refused rather than dropped; a publisher refused mid-stream stops at
// once; a receiver does not overwrite a file unless told to.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "canopy/v1/node.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

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
  EXPECT_EQ(ctl.Stderr(), "canopyctl: UNIMPLEMENTED: " + says + "\n");  // one line

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

// A policy change that drops a live publisher's source ends canopy-pub
// within a second, naming the refusal, while its stdin stays open and idle.
TEST(ClientContractTest, APublisherRefusedMidStreamExitsAtOnce) {
  Overlay overlay;
  ASSERT_FALSE(overlay.StartNode("a").empty());
  ASSERT_TRUE(overlay.SetAllowList("g", {"trainer"}).ok());
  ASSERT_TRUE(overlay.AwaitTablesApplied());
  std::unique_ptr<Process> sub = overlay.StartSubscriber("a", {"--group", "g"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << sub->Stderr();
  std::unique_ptr<Process> pub = overlay.StartPublisher("a", "g", "trainer");
  ASSERT_TRUE(pub->WriteStdin("allowed\n"));
  ASSERT_TRUE(sub->WaitForStdout("allowed", kWait)) << overlay.Logs();

  ASSERT_TRUE(overlay.SetAllowList("g", {"someone-else"}).ok());
  ASSERT_TRUE(overlay.AwaitTablesApplied());
  const absl::Time refused = absl::Now();
  EXPECT_EQ(pub->Wait(absl::Seconds(5)), 1) << pub->Stderr();
  EXPECT_LT(absl::Now() - refused, absl::Seconds(1)) << pub->Stderr();
  EXPECT_THAT(pub->Stderr(), HasSubstr("PERMISSION_DENIED")) << pub->Stderr();
  EXPECT_THAT(pub->Stderr(), HasSubstr("'trainer' may not publish to group 'g'"));
}

// canopy-recv refuses to replace an existing DIR/NAME (and writes nothing);
// with --force it replaces it.
TEST(ClientContractTest, AReceiverKeepsAnExistingFileUnlessForced) {
  Overlay overlay;
  ASSERT_FALSE(overlay.StartNode("a").empty());
  const std::string file = overlay.WriteFile("report.txt", "the new contents");
  const std::filesystem::path out = std::filesystem::path(file).parent_path() / "out";
  std::filesystem::create_directories(out);
  {
    std::ofstream kept(out / "report.txt");
    kept << "precious";
  }
  auto receive = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {BinaryPath("canopy-recv"),
                                     "--node",
                                     overlay.client_address("a"),
                                     "--group",
                                     "files",
                                     "--out",
                                     out.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto recv = std::make_unique<Process>(argv);
    EXPECT_TRUE(recv->WaitForStderr("joined", kWait)) << recv->Stderr();
    Process send({BinaryPath("canopy-send"), file, "--node", overlay.client_address("a"), "--group",
                  "files"});
    EXPECT_EQ(send.Wait(kWait), 0) << send.Stderr();
    return recv;
  };
  auto refused = receive({});
  EXPECT_EQ(refused->Wait(kWait), 1) << refused->Stderr();
  EXPECT_THAT(refused->Stderr(), HasSubstr("ALREADY_EXISTS: " + (out / "report.txt").string() +
                                           " exists; --force overwrites it"));
  auto contents = [&] {
    std::ifstream in(out / "report.txt");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(contents(), "precious");
  EXPECT_FALSE(std::filesystem::exists(out / ".report.txt.partial"));

  auto forced = receive({"--force"});
  EXPECT_EQ(forced->Wait(kWait), 0) << forced->Stderr();
  EXPECT_EQ(contents(), "the new contents");
}

}  // namespace
}  // namespace canopy::testing
