// Every server socket holds its port alone: a second canopy-controller or
// canopy-node on an address in use (gRPC, data, client links, /metrics) exits 1 with one
// clear line, and the first keeps answering.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/program.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// The lines of stderr that say why the program stopped.
std::vector<std::string> InUseLines(const Process& p) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(p.Stderr(), '\n')) {
    if (absl::StrContains(line, "Address already in use")) found.emplace_back(line);
  }
  return found;
}

// Starts a second server with `argv`, which must give up on `address`:
// exit 1 and one line naming `flag` (or `what`) and the address.
void ExpectRefused(std::vector<std::string> argv, const std::string& address,
                   const std::string& what) {
  Process second(std::move(argv));
  EXPECT_EQ(second.Wait(kWait), 1) << second.Stderr();
  EXPECT_THAT(second.StdoutLines(), SizeIs(0)) << "it printed a listening line";
  const std::vector<std::string> lines = InUseLines(second);
  ASSERT_THAT(lines, SizeIs(1)) << second.Stderr();
  EXPECT_THAT(lines[0], HasSubstr(what));
  EXPECT_THAT(lines[0], HasSubstr(address));
}

// A node's grpc.health.v1 answer for the Node service: the node serves.
bool NodeAnswers(const std::string& address) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("canopy.v1.Node");
  grpc::health::v1::HealthCheckResponse response;
  return health->Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

TEST(ExclusivePortsTest, ASecondControllerOnTheSamePortExitsAndTheFirstKeepsEveryCall) {
  Overlay overlay;
  ASSERT_TRUE(overlay.SetAllowList("owned", {"first"}).ok());
  const std::string address = overlay.controller_address();
  ExpectRefused(
      {BinaryPath("canopy-controller"), "--listen", address, "--store",
       ::testing::TempDir() + "exclusive-ports-second.db", "--metrics-listen", "127.0.0.1:0"},
      address, "canopy-controller: --listen: cannot listen on");
  // Every new connection reaches the first controller, which alone has the
  // policy.
  for (int i = 0; i < 8; ++i) {
    auto stub =
        v1::Controller::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::GetPolicyRequest request;
    request.set_group("owned");
    v1::GroupPolicy policy;
    ASSERT_TRUE(stub->GetPolicy(&context, request, &policy).ok()) << i;
    EXPECT_THAT(policy.allowed_sources(), ::testing::ElementsAre("first")) << i;
  }
}

TEST(ExclusivePortsTest, ASecondNodeOnAPortInUseExitsAndTheFirstKeepsServing) {
  Overlay overlay;
  const std::string clients = overlay.StartNode("first", 0, {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_FALSE(clients.empty());
  const std::string line = overlay.node("first").StdoutLines().at(0);
  const std::string data = ListeningField(line, "data");
  const std::string metrics = ListeningField(line, "metrics");
  const std::string links = ListeningField(line, "links");
  ASSERT_FALSE(data.empty() || metrics.empty() || links.empty()) << line;
  auto second = [&](const std::string& listen, const std::string& data_address,
                    const std::string& metrics_address) {
    return std::vector<std::string>{BinaryPath("canopy-node"),
                                    "--id",
                                    "second",
                                    "--controller",
                                    overlay.controller_address(),
                                    "--listen",
                                    listen,
                                    "--data",
                                    data_address,
                                    "--metrics-listen",
                                    metrics_address,
                                    "--discovery-interval-ms",
                                    "0"};
  };
  ExpectRefused(second(clients, "127.0.0.1:0", "127.0.0.1:0"), clients,
                "canopy-node: --listen: cannot listen on");
  ExpectRefused(second("127.0.0.1:0", data, "127.0.0.1:0"), data,
                "canopy-node: --data: cannot listen on");
  {
    std::vector<std::string> argv = second("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0");
    argv.insert(argv.end(), {"--client-links", links});
    ExpectRefused(argv, links, "canopy-node: --client-links: cannot listen on");
  }
  // An explicit --metrics-listen must bind (the default may be skipped).
  ExpectRefused(second("127.0.0.1:0", "127.0.0.1:0", metrics), metrics,
                "canopy-node: cannot listen on metrics address");
  EXPECT_TRUE(overlay.node("first").running());
  EXPECT_TRUE(NodeAnswers(clients));
  // The first node still carries data: a subscriber there joins.
  auto sub = overlay.StartSubscriber("first", {"--group", "still-here"});
  EXPECT_TRUE(sub->WaitForStderr("joined still-here", kWait)) << sub->Stderr();
}

TEST(ExclusivePortsTest, AControllerRefusesAPortAnotherProgramSharesWithReusePort) {
  // A listener with SO_REUSEPORT would let a server that also asks for it
  // share the port; Canopy's servers never ask.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  ExpectRefused(
      {BinaryPath("canopy-controller"), "--listen", address, "--store",
       ::testing::TempDir() + "exclusive-ports-store.db", "--metrics-listen", "127.0.0.1:0"},
      address, "--listen: cannot listen on");
  close(fd);
}

}  // namespace
}  // namespace canopy::testing
