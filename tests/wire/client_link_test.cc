// Client links through the node's one link server and the client's
// ClientLink: only the offered token gets in, frames flow both ways exactly,
// and hostile or broken input is a clear error.

#include "wire/client_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/wire/link_server_fixture.h"
#include "wire/control_frames.h"

namespace canopy::wire {
namespace {

using ::testing::HasSubstr;
using testing::LinkServerFixture;

constexpr absl::Duration kWait = absl::Seconds(10);

// A raw TCP connection to `at` that sends `bytes` and then waits until the
// server closes it; true if it was closed.
bool SendRawAndAwaitClose(const Endpoint& at, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(at.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return false;
  if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) < 0) return false;
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char c;
  const ssize_t n = read(fd, &c, 1);
  close(fd);
  return n <= 0;
}

TEST(ClientLinkTest, TokensAreFreshHex) {
  const std::string a = NewClientLinkToken(), b = NewClientLinkToken();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(ClientLinkTest, OnlyTheRightTokenIsAcceptedAndFramesFlowBothWays) {
  LinkServerFixture node;
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  // A stranger connects first with a wrong token: closed, counted.
  auto stranger = ClientLink::Connect(node.at(), NewClientLinkToken(), kWait);
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  std::string ignored;
  EXPECT_FALSE((*stranger)->ReadInto(ignored, 1 << 20).ok());
  EXPECT_EQ(node.server().refused(), 1u);

  auto client = ClientLink::Connect(node.at(), token, kWait);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::shared_ptr<Connection>> connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok()) << connection.status();
  ClientLink link(*connection);

  FramePtr f = Frame::Make(FrameType::kData, 0, 0, 1, "hello node");
  const absl::string_view parts[] = {f->bytes()};
  EXPECT_TRUE((*client)->Write(parts).ok());
  auto bytes = link.ReadFrame(1 << 20);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto frame = Frame::Adopt(*std::move(bytes), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ((*frame)->payload(), "hello node");

  FramePtr source = MakeSource(1, 2, "camera");
  const absl::string_view back[] = {source->bytes()};
  EXPECT_TRUE(link.Write(back).ok());
  std::string payload;
  auto h = (*client)->ReadInto(payload, 1 << 20);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->type, FrameType::kSource);
  EXPECT_EQ(payload, "camera");

  // A clean half-close between frames is OutOfRange; the offer is spent.
  (*client)->ShutdownWrite();
  EXPECT_EQ(link.ReadFrame(1 << 20).status().code(), absl::StatusCode::kOutOfRange);
  auto again = ClientLink::Connect(node.at(), token, kWait);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)->ReadInto(ignored, 1 << 20).ok());
}

TEST(ClientLinkTest, NobodyConnectingIsADeadlineAndWithdrawIsCancelled) {
  LinkServerFixture node;
  auto late = node.Offer("t", "", absl::Milliseconds(100));
  EXPECT_EQ(late->Await(kWait).status().code(), absl::StatusCode::kDeadlineExceeded);
  auto withdrawn = node.Offer("u");
  node.server().Withdraw("u");
  EXPECT_EQ(withdrawn->Await(kWait).status().code(), absl::StatusCode::kCancelled);
}

TEST(ClientLinkTest, SilentAndMalformedConnectionsAreClosed) {
  LinkServerFixture node;
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  EXPECT_TRUE(SendRawAndAwaitClose(node.at(), ""));  // no HELLO at all
  std::string bad(MakeSource(0, 0, "x")->bytes());   // not a HELLO
  EXPECT_TRUE(SendRawAndAwaitClose(node.at(), bad));
  std::string garbage(64, 'G');
  EXPECT_TRUE(SendRawAndAwaitClose(node.at(), garbage));
  EXPECT_EQ(node.server().refused(), 3u);
  // The offer still stands for its client.
  auto client = ClientLink::Connect(node.at(), token, kWait);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(offer->Await(kWait).ok());
}

TEST(ClientLinkTest, EveryPayloadSizeArrivesExactlyAndLimitsHold) {
  LinkServerFixture node;
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  auto client = ClientLink::Connect(node.at(), token, kWait);
  ASSERT_TRUE(client.ok());
  auto connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok());
  ClientLink link(*connection);
  std::vector<std::string> payloads;
  for (size_t size : {size_t{0}, size_t{1}, size_t{31}, size_t{65536}, size_t{3} << 20}) {
    std::string p(size, '\0');
    for (size_t j = 0; j < p.size(); ++j) p[j] = static_cast<char>((j * 13 + size) & 0xff);
    payloads.push_back(p);
  }
  std::thread writer([&] {
    std::vector<std::array<char, kHeaderSize>> headers(payloads.size());
    std::vector<absl::string_view> parts;
    for (size_t i = 0; i < payloads.size(); ++i) {
      EncodeHeader(FrameType::kData, 1, 1, i + 1, payloads[i], headers[i].data());
      parts.push_back(absl::string_view(headers[i].data(), kHeaderSize));
      parts.push_back(payloads[i]);
    }
    EXPECT_TRUE(link.Write(parts).ok());  // one gathered write
    std::string big(5 << 20, 'b');
    FramePtr too_big = Frame::Make(FrameType::kData, 1, 1, 99, big);
    const absl::string_view over[] = {too_big->bytes()};
    link.Write(over).IgnoreError();
  });
  for (size_t i = 0; i < payloads.size(); ++i) {
    std::string payload;
    auto h = (*client)->ReadInto(payload, 4 << 20);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->sequence, i + 1);
    EXPECT_TRUE(payload == payloads[i]) << "payload " << i;
  }
  // Above the reader's limit: refused from the header, before any of it is
  // allocated or read.
  std::string payload;
  auto h = (*client)->ReadInto(payload, 4 << 20);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << h.status();
  (*client)->Shutdown();
  link.Shutdown();
  writer.join();
}

TEST(ClientLinkTest, CorruptFramesAreDataLoss) {
  LinkServerFixture node;
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  auto client = ClientLink::Connect(node.at(), token, kWait);
  ASSERT_TRUE(client.ok());
  auto connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok());
  ClientLink link(*connection);
  std::string corrupt(Frame::Make(FrameType::kData, 1, 1, 1, "payload")->bytes());
  corrupt.back() ^= 1;
  const absl::string_view parts[] = {corrupt};
  ASSERT_TRUE(link.Write(parts).ok());
  std::string payload;
  auto h = (*client)->ReadInto(payload, 1 << 20);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kDataLoss) << h.status();
  EXPECT_THAT(h.status().message(), HasSubstr("checksum"));
}

}  // namespace
}  // namespace canopy::wire
