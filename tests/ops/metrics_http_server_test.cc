#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/metrics_http_server.h"

namespace canopy::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kDeadline = absl::Seconds(20);

// A blocking loopback TCP client with deadlines (poll), closed on scope exit.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the peer closes (or resets) the connection; nullopt at the
  // deadline.
  std::optional<std::string> ReadToClose(absl::Duration timeout = kDeadline) {
    std::string out;
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<size_t>(n));
    }
  }

  // Reads until `text` has arrived; false at the deadline or on close.
  bool ReadUntil(const std::string& text, std::string* out) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (out->find(text) == std::string::npos) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      out->append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

 private:
  int fd_;
  bool connected_ = false;
};

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void Start(MetricsHttpServerOptions options = {}) {
    server_.emplace(options, [this] {
      ++renders_;
      return std::string("# HELP canopy_up Up.\n# TYPE canopy_up gauge\ncanopy_up 1\n");
    });
    auto bound = server_->Start(HostPort{"127.0.0.1", 0});
    ASSERT_TRUE(bound.ok()) << bound.status();
    ASSERT_NE(bound->port, 0);
    port_ = bound->port;
  }

  std::string Exchange(const std::string& request) {
    Client client(port_);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request));
    return client.ReadToClose().value_or("<timeout>");
  }

  std::atomic<int> renders_{0};
  std::optional<MetricsHttpServer> server_;
  uint16_t port_ = 0;
};

TEST_F(MetricsHttpServerTest, ServesMetrics) {
  Start();
  const std::string response =
      Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(response, HasSubstr("\r\n\r\n# HELP canopy_up Up.\n"));
  EXPECT_EQ(renders_.load(), 1);
}

TEST_F(MetricsHttpServerTest, QueryStringIsIgnoredAndHeadHasNoBody) {
  Start();
  EXPECT_THAT(Exchange("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.0 200 OK\r\n"));
  const std::string head = Exchange("HEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 56\r\n"));
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");
}

TEST_F(MetricsHttpServerTest, KeepAliveServesSeveralRequests) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  std::string got;
  for (int i = 0; i < 3; ++i) {
    got.clear();
    ASSERT_TRUE(client.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(client.ReadUntil("canopy_up 1\n", &got)) << got;
  }
  EXPECT_EQ(renders_.load(), 3);
}

TEST_F(MetricsHttpServerTest, BadRequestsGetErrorsNotCrashes) {
  Start();
  EXPECT_THAT(Exchange("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  const std::string post =
      Exchange("POST /metrics HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_THAT(Exchange("this is not http\r\n\r\n"), StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(Exchange(std::string("GET /metrics HTTP/1.1\r\nX: \x01\x02\r\n\r\n")),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_EQ(renders_.load(), 0);
  // Still serving.
  EXPECT_THAT(Exchange("GET /metrics HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.0 200 OK\r\n"));
}

TEST_F(MetricsHttpServerTest, OversizedRequestsAreRefused) {
  MetricsHttpServerOptions options;
  options.max_request_bytes = 1024;
  Start(options);
  const std::string huge_header =
      "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
  EXPECT_THAT(Exchange(huge_header), StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  const std::string huge_body =
      "GET /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b');
  Client client(port_);
  ASSERT_TRUE(client.connected());
  client.Send(huge_body);  // the server may close before all of it is sent
  const std::optional<std::string> response = client.ReadToClose();
  ASSERT_TRUE(response.has_value());
  if (!response->empty()) {
    EXPECT_THAT(*response, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  }
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(MetricsHttpServerTest, SilentClientsAreDisconnected) {
  MetricsHttpServerOptions options;
  options.read_timeout = absl::Milliseconds(200);
  Start(options);
  Client silent(port_);
  ASSERT_TRUE(silent.connected());
  const absl::Time start = absl::Now();
  std::optional<std::string> got = silent.ReadToClose();
  ASSERT_TRUE(got.has_value()) << "server never closed a silent connection";
  EXPECT_EQ(*got, "");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  Client partial(port_);
  ASSERT_TRUE(partial.Send("GET /metr"));
  EXPECT_TRUE(partial.ReadToClose().has_value());
}

TEST_F(MetricsHttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
  MetricsHttpServerOptions options;
  options.max_connections = 2;
  options.read_timeout = absl::Seconds(60);
  Start(options);
  auto first = std::make_unique<Client>(port_);
  Client second(port_);
  // Both are accepted (served) before a third arrives.
  std::string got;
  ASSERT_TRUE(first->Send("GET /metrics HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(first->ReadUntil("canopy_up 1\n", &got));
  got.clear();
  ASSERT_TRUE(second.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(second.ReadUntil("canopy_up 1\n", &got));
  Client third(port_);
  third.Send("GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(third.ReadToClose().value_or("<timeout>"), "");
  // Once one closes, a new connection is served again (the server notices
  // the close asynchronously: retry until the deadline).
  first.reset();
  const absl::Time deadline = absl::Now() + kDeadline;
  bool served = false;
  while (!served && absl::Now() < deadline) {
    Client again(port_);
    again.Send("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    served = again.ReadToClose().value_or("").find("200 OK") != std::string::npos;
  }
  EXPECT_TRUE(served);
}

TEST_F(MetricsHttpServerTest, StartTwiceAndBusyPortFail) {
  Start();
  EXPECT_EQ(server_->Start(HostPort{"127.0.0.1", 0}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  MetricsHttpServer other({}, [] { return std::string(); });
  EXPECT_EQ(other.Start(HostPort{"127.0.0.1", port_}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(MetricsHttpServerTest, StopIsIdempotentAndClosesTheListener) {
  Start();
  server_->Stop();
  server_->Stop();
  Client late(port_);
  EXPECT_FALSE(late.connected());
}

}  // namespace
}  // namespace canopy::ops
