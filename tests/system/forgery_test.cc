// Only the flow's parent speaks for the flow: data links that forge GAP,
// DATA and RESUME frames — as a stranger, or under the parent's own name
// without its link token — are dropped and counted, and the stream goes on
// exactly once and in order. Idle connections that never say HELLO are
// closed so they cannot hold a peer's link quota.

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/address.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/overlay.h"
#include "tests/testing/poll.h"
#include "tests/system/prometheus_text.h"
#include "wire/control_frames.h"
#include "wire/outbound_link.h"

namespace canopy::testing {
namespace {

namespace asio = boost::asio;

// A data link to a node, opened as node `as` with `token`, through the
// nodes' own link stack.
class Forger {
 public:
  Forger(const std::string& to, const std::string& as, const std::string& token)
      : work_(asio::make_work_guard(io_)) {
    absl::StatusOr<HostPort> address = ParseHostPort(to);
    EXPECT_TRUE(address.ok());
    wire::OutboundLinkOptions options;
    options.local_node_id = as;
    options.link_token = token;
    link_ = wire::OutboundLink::Start(io_, "target", wire::Endpoint{address->host, address->port},
                                      options, [](const absl::Status&) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Forger() {
    asio::post(io_, [this] { link_->Close(); });
    work_.reset();
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  void Send(wire::FramePtr frame) { link_->Send(std::move(frame)); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<wire::OutboundLink> link_;
  std::thread thread_;
};

double Metric(const std::string& metrics_address, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  absl::StatusOr<HttpResponse> r = HttpRequest(metrics_address, "GET", "/metrics", kWait);
  if (!r.ok()) return -1;
  auto families = ParsePrometheusText(r->body);
  if (!families.ok()) return -1;
  return FindSample(*families, name, labels).value_or(-1);
}

TEST(ForgeryTest, ForgedFramesAreDroppedCountedAndTheFlowGoesOn) {
  Overlay overlay({}, "a b 100\nb c 100\n");
  ASSERT_FALSE(overlay.StartNode("a").empty());
  ASSERT_FALSE(overlay.StartNode("b").empty());
  ASSERT_FALSE(overlay.StartNode("c", 0, {"--metrics-listen", "127.0.0.1:0"}).empty());
  NumberedStream stream(overlay, "a", "c", "g");
  ASSERT_TRUE(stream.Start());
  stream.Publish(100);
  ASSERT_TRUE(stream.AwaitDelivered()) << overlay.Logs();

  uint32_t handle = 0;
  ASSERT_TRUE(overlay.AwaitGroups([&](const v1::ListGroupsResponse& groups) {
    for (const v1::GroupSummary& g : groups.groups()) {
      if (g.group() == "g") handle = g.group_handle();
    }
    return handle != 0;
  }));
  const uint32_t source_id = 1;  // the group's first source
  const uint64_t next = stream.published() + 1;
  {
    // A stranger, and an impostor using the parent's name without its token.
    Forger stranger(overlay.data_address("c"), "evil", "");
    Forger impostor(overlay.data_address("c"), "b", "");
    for (Forger* f : {&stranger, &impostor}) {
      f->Send(wire::MakeGap({handle, source_id, next, uint64_t{1} << 62}));
      f->Send(wire::Frame::Make(wire::FrameType::kData, handle, source_id, next, "forged"));
      f->Send(wire::MakeResume({handle, source_id, 0, 0}));
    }
    const std::string metrics = overlay.metrics_address("c");
    const absl::Time deadline = absl::Now() + kWait;
    double refused = 0;
    while (absl::Now() < deadline) {
      refused = Metric(metrics, "canopy_node_dropped_frames_total",
                       {{"group", "g"}, {"reason", "not_from_parent"}});
      if (refused >= 6) break;
      absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
    }
    EXPECT_EQ(refused, 6) << overlay.Logs();
  }
  stream.Publish(100);
  ASSERT_TRUE(stream.AwaitDelivered()) << overlay.Logs();
  const StreamVerdict v = stream.Verdict();
  EXPECT_TRUE(v.ok()) << v.ToString();
  EXPECT_EQ(v.declared_lost, 0u);
  for (const std::string& line : stream.subscriber().StdoutLines()) {
    EXPECT_EQ(line.find("forged"), std::string::npos) << line;
  }
}

TEST(ForgeryTest, ConnectionsThatNeverSayHelloAreClosed) {
  Overlay overlay;
  ASSERT_FALSE(overlay.StartNode("a", 0, {"--metrics-listen", "127.0.0.1:0"}).empty());
  absl::StatusOr<HostPort> data = ParseHostPort(overlay.data_address("a"));
  ASSERT_TRUE(data.ok());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(data->port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // Silent: the node closes the connection (read returns 0 or an error).
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char byte;
  const ssize_t n = read(fd, &byte, 1);
  close(fd);
  EXPECT_LE(n, 0);
  // The refusal is counted as the link's last handler returns, which may be
  // just after the peer saw the close: poll with a deadline.
  auto refused = [&] {
    return Metric(overlay.metrics_address("a"), "canopy_node_refused_total",
                  {{"reason", "link_hello"}});
  };
  PollUntil([&] { return refused() >= 1; }, absl::Seconds(10));
  EXPECT_EQ(refused(), 1);
}

// A child whose first link fails still gets a flow's first messages: idle
// connections fill its per-address link quota while the flow starts (its
// parent's link is refused); they are closed for saying no HELLO, the
// parent's link gets through, and the child asks for the flow from its
// start — though the publisher is long done.
TEST(ForgeryTest, IdleConnectionsCannotCostAChildTheFirstMessages) {
  Overlay overlay;
  ASSERT_FALSE(overlay.StartNode("a", 0, {"--probe-interval-ms", "0"}).empty());
  ASSERT_FALSE(overlay
                   .StartNode("c", 0,
                              {"--probe-interval-ms", "0", "--max-links-per-peer", "2",
                               "--metrics-listen", "127.0.0.1:0"})
                   .empty());
  absl::StatusOr<HostPort> data = ParseHostPort(overlay.data_address("c"));
  ASSERT_TRUE(data.ok());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(data->port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int idle[2];
  for (int& fd : idle) {  // the whole quota of 127.0.0.1
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }

  std::unique_ptr<Process> sub = overlay.StartSubscriber("c", {"--group", "g", "--count", "20"});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << overlay.Logs();
  std::unique_ptr<Process> pub = overlay.StartPublisher("a", "g", "src");
  std::string lines;
  for (int i = 1; i <= 20; ++i) lines += NumberedStream::Message(i) + "\n";
  pub->WriteStdin(lines);
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0) << pub->Stderr();
  EXPECT_EQ(sub->Wait(kWait), 0) << sub->Stderr() << overlay.Logs();
  std::vector<std::string> expected;
  for (int i = 1; i <= 20; ++i) expected.push_back(NumberedStream::Message(i));
  EXPECT_EQ(sub->StdoutLines(), expected);
  EXPECT_GE(
      Metric(overlay.metrics_address("c"), "canopy_node_refused_total", {{"reason", "links"}}), 1);
  for (int fd : idle) close(fd);
}

}  // namespace
}  // namespace canopy::testing
