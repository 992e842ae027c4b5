#include "wire/client_link.h"

#include <sys/socket.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "wire/control_frames.h"
#include "wire/frame_socket.h"

namespace canopy::wire {
namespace {

constexpr absl::Duration kWait = absl::Seconds(5);

FrameSocketListener Listen() {
  absl::StatusOr<FrameSocketListener> l = FrameSocketListener::Open("127.0.0.1");
  EXPECT_TRUE(l.ok()) << l.status();
  return *std::move(l);
}

Endpoint At(const FrameSocketListener& l) { return Endpoint{"127.0.0.1", l.port()}; }

TEST(ClientLinkTest, TokensAreFreshHex) {
  const std::string a = NewClientLinkToken(), b = NewClientLinkToken();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(ClientLinkTest, OnlyTheRightTokenIsAcceptedAndFramesFlowBothWays) {
  FrameSocketListener listener = Listen();
  const std::string token = NewClientLinkToken();
  // A stranger connects first with a wrong token, then the client.
  std::thread clients([&] {
    auto stranger = ConnectClientLink(At(listener), NewClientLinkToken(), kWait);
    ASSERT_TRUE(stranger.ok()) << stranger.status();
    std::string ignored;
    // The node closes the stranger's connection.
    EXPECT_FALSE(stranger->ReadInto(ignored, 1 << 20, nullptr).ok());
    auto client = ConnectClientLink(At(listener), token, kWait);
    ASSERT_TRUE(client.ok()) << client.status();
    FramePtr f = Frame::Make(FrameType::kData, 0, 0, 1, "hello node");
    const absl::string_view parts[] = {f->bytes()};
    EXPECT_TRUE(client->Write(parts, nullptr).ok());
    std::string payload;
    auto h = client->ReadInto(payload, 1 << 20, nullptr);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->type, FrameType::kSource);
    EXPECT_EQ(payload, "camera");
  });
  auto link = AcceptClientLink(listener, token, absl::Now() + kWait, nullptr);
  ASSERT_TRUE(link.ok()) << link.status();
  auto bytes = link->Read(1 << 20, nullptr);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto frame = Frame::Adopt(*std::move(bytes), 1 << 20);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ((*frame)->payload(), "hello node");
  FramePtr source = MakeSource(1, 2, "camera");
  const absl::string_view parts[] = {source->bytes()};
  EXPECT_TRUE(link->Write(parts, nullptr).ok());
  clients.join();
}

TEST(ClientLinkTest, NobodyConnectingIsADeadlineAndStopIsHonoured) {
  FrameSocketListener listener = Listen();
  auto late = AcceptClientLink(listener, "t", absl::Now() + absl::Milliseconds(200), nullptr);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto stopped = AcceptClientLink(listener, "t", absl::Now() + kWait, [] { return true; });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
}

TEST(FrameSocketTest, EndOfStreamBetweenFramesIsCleanInsideAFrameIsNot) {
  FrameSocketListener listener = Listen();
  auto client = FrameSocket::Connect(At(listener), kWait);
  ASSERT_TRUE(client.ok()) << client.status();
  auto server = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();

  FramePtr f = Frame::Make(FrameType::kData, 1, 2, 3, "whole");
  const std::string truncated(f->bytes().substr(0, f->bytes().size() - 2));
  const absl::string_view parts[] = {f->bytes(), truncated};
  ASSERT_TRUE(client->Write(parts, nullptr).ok());
  client->ShutdownWrite();

  std::string payload;
  auto first = server->ReadInto(payload, 1 << 20, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(payload, "whole");
  auto second = server->ReadInto(payload, 1 << 20, nullptr);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();

  auto client2 = FrameSocket::Connect(At(listener), kWait);
  auto server2 = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client2.ok() && server2.ok());
  client2->ShutdownWrite();
  EXPECT_EQ(server2->Read(1 << 20, nullptr).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(FrameSocketTest, HostileBytesAreClearErrors) {
  FrameSocketListener listener = Listen();
  auto client = FrameSocket::Connect(At(listener), kWait);
  auto server = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client.ok() && server.ok());

  // A header announcing more than the limit is refused before any payload.
  std::string huge(Frame::Make(FrameType::kData, 1, 1, 1, "")->bytes());
  huge[12] = '\x7f';
  const absl::string_view parts[] = {huge};
  ASSERT_TRUE(client->Write(parts, nullptr).ok());
  auto r = server->Read(16 << 20, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();

  // A flipped payload byte is caught by ReadInto's checksum.
  auto client2 = FrameSocket::Connect(At(listener), kWait);
  auto server2 = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client2.ok() && server2.ok());
  std::string flipped(Frame::Make(FrameType::kData, 1, 1, 1, "payload")->bytes());
  flipped[kHeaderSize] ^= 1;
  const absl::string_view parts2[] = {flipped};
  ASSERT_TRUE(client2->Write(parts2, nullptr).ok());
  std::string payload;
  auto c = server2->ReadInto(payload, 1 << 20, nullptr);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss) << c.status();
}

TEST(FrameSocketTest, ABlockedReadGivesUpWhenAsked) {
  FrameSocketListener listener = Listen();
  auto client = FrameSocket::Connect(At(listener), kWait);
  auto server = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client.ok() && server.ok());
  std::atomic<bool> stop{false};
  std::thread stopper([&] { stop = true; });
  auto r = server->Read(1 << 20, [&] { return stop.load(); });
  stopper.join();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

TEST(FrameSocketTest, EveryPayloadSizeArrivesExactly) {
  FrameSocketListener listener = Listen();
  auto client = FrameSocket::Connect(At(listener), kWait);
  auto server = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client.ok() && server.ok());
  // Sizes around the small-string buffer and the first heap growth steps.
  for (size_t n : {0, 1, 15, 16, 17, 20, 29, 30, 31, 33, 64, 100, 1000, 65537}) {
    const std::string sent(n, 'z');
    FramePtr f = Frame::Make(FrameType::kData, 1, 1, n + 1, sent);
    const absl::string_view parts[] = {f->bytes()};
    ASSERT_TRUE(client->Write(parts, nullptr).ok());
    std::string payload;
    auto h = server->ReadInto(payload, 1 << 20, nullptr);
    ASSERT_TRUE(h.ok()) << n << ": " << h.status();
    EXPECT_EQ(payload, sent) << n;
  }
}

TEST(FrameSocketTest, LargeGatheredWritesArriveWhole) {
  FrameSocketListener listener = Listen();
  auto client = FrameSocket::Connect(At(listener), kWait);
  auto server = listener.Accept(absl::Now() + kWait, nullptr);
  ASSERT_TRUE(client.ok() && server.ok());
  // More than the socket buffers hold: the writer must wait for the reader.
  std::vector<std::string> payloads;
  for (int i = 0; i < 40; ++i)
    payloads.push_back(std::string(1 << 20, static_cast<char>('a' + i % 26)));
  std::thread writer([&] {
    std::vector<FramePtr> frames;
    std::vector<absl::string_view> parts;
    for (size_t i = 0; i < payloads.size(); ++i) {
      frames.push_back(Frame::Make(FrameType::kData, 1, 1, i + 1, payloads[i]));
      parts.push_back(frames.back()->bytes());
    }
    EXPECT_TRUE(client->Write(parts, nullptr).ok());
    client->ShutdownWrite();
  });
  for (size_t i = 0; i < payloads.size(); ++i) {
    std::string payload;
    auto h = server->ReadInto(payload, 16 << 20, nullptr);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->sequence, i + 1);
    EXPECT_EQ(payload, payloads[i]);
  }
  std::string none;
  EXPECT_EQ(server->ReadInto(none, 1 << 20, nullptr).status().code(),
            absl::StatusCode::kOutOfRange);
  writer.join();
}

}  // namespace
}  // namespace canopy::wire
