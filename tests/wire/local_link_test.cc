// Local links: a client on the node's host gets shared-memory rings over
// the node's abstract Unix socket for the offered token. Frames of every
// size flow both ways exactly; a wrong token, a silent client, a client
// that dies or one that corrupts its ring is a clean error on the node's
// side, and the server goes on serving others.

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/wire/link_server_fixture.h"
#include "wire/client_link.h"
#include "wire/shm_handover.h"
#include "wire/shm_stream.h"

namespace canopy::wire {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::LinkServerFixture;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr size_t kRing = 64 << 10;

// The client's half of a handover done by hand, as a hostile or crashing
// client would: the socket and the rings it was handed.
struct RawLocalClient {
  UniqueFd socket;
  absl::StatusOr<ShmDirections> rings = absl::UnknownError("not connected");
};

RawLocalClient ConnectRaw(const std::string& name, const std::string& token) {
  RawLocalClient client;
  client.socket = UniqueFd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const auto address = AbstractUnixEndpoint(name);
  EXPECT_EQ(connect(client.socket.get(), address.data(), address.size()), 0) << strerror(errno);
  const FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, token);
  EXPECT_GT(send(client.socket.get(), hello->bytes().data(), hello->bytes().size(), MSG_NOSIGNAL),
            0);
  client.rings = ReceiveShmDirections(client.socket.get(), kWait);
  return client;
}

// Sends one frame and reads it on the other side: the writer runs beside
// the reader, as a frame larger than the ring needs.
void ExpectEcho(ClientLink& from, ClientLink& to, const std::string& payload) {
  FramePtr f = Frame::Make(FrameType::kData, 1, 2, 3, payload);
  absl::Status written;
  std::thread writer([&] {
    const absl::string_view parts[] = {f->bytes()};
    written = from.Write(parts);
  });
  std::string got;
  absl::StatusOr<FrameHeader> h = to.ReadInto(got, 8 << 20);
  writer.join();
  ASSERT_TRUE(written.ok()) << written;
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->sequence, 3u);
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
}

TEST(LocalLinkTest, FramesOfEverySizeFlowBothWaysInSharedMemory) {
  LinkServerFixture node(nullptr, kRing);
  ASSERT_THAT(node.server().local_name(), StartsWith("canopy-links-"));
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  auto client = ClientLink::ConnectLocal(node.server().local_name(), token, kWait);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->security(), "shared memory");
  absl::StatusOr<std::shared_ptr<Connection>> connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok()) << connection.status();
  ClientLink at_node(*connection);
  EXPECT_EQ(at_node.peer(), absl::StrCat("local pid ", getpid()));
  EXPECT_EQ(at_node.security(), "shared memory");

  // Empty, small, exactly the ring, and many rings' worth (the writer
  // waits for room while the reader drains).
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, kRing, size_t{5} << 20}) {
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7 + size);
    ExpectEcho(**client, at_node, payload);
    ExpectEcho(at_node, **client, payload);
  }
  // Many frames in a row without waiting for each.
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 2000; ++i) {
      FramePtr f = Frame::Make(FrameType::kData, 1, 2, i, std::string(300, 'm'));
      const absl::string_view parts[] = {f->bytes()};
      ASSERT_TRUE((*client)->Write(parts).ok());
    }
    (*client)->ShutdownWrite();
  });
  uint64_t next = 1;
  std::string payload;
  for (;;) {
    absl::StatusOr<FrameHeader> h = at_node.ReadInto(payload, 1 << 20);
    if (!h.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(h.status())) << h.status();  // the clean end
      break;
    }
    EXPECT_EQ(h->sequence, next++);
  }
  writer.join();
  EXPECT_EQ(next, 2001u);
}

TEST(LocalLinkTest, AWrongTokenGetsNoRings) {
  LinkServerFixture node(nullptr, kRing);
  auto offer = node.Offer(NewClientLinkToken());
  auto stranger = ClientLink::ConnectLocal(node.server().local_name(), NewClientLinkToken(), kWait);
  EXPECT_TRUE(absl::IsUnavailable(stranger.status())) << stranger.status();
  EXPECT_EQ(node.server().refused(), 1u);
}

TEST(LocalLinkTest, NothingListensWithoutLocalLinks) {
  LinkServerFixture node(nullptr, /*local_ring_bytes=*/0);
  EXPECT_EQ(node.server().local_name(), "");
  auto client = ClientLink::ConnectLocal(NewLocalLinkName(), NewClientLinkToken(), kWait);
  EXPECT_TRUE(absl::IsUnavailable(client.status())) << client.status();
}

TEST(LocalLinkTest, ASilentClientIsClosed) {
  LinkServerFixture node(nullptr, kRing);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const auto address = AbstractUnixEndpoint(node.server().local_name());
  ASSERT_EQ(connect(fd.get(), address.data(), address.size()), 0);
  timeval timeout{20, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char c;
  EXPECT_EQ(recv(fd.get(), &c, 1, 0), 0);  // closed by the node, not timed out
  EXPECT_EQ(node.server().refused(), 1u);
}

TEST(LocalLinkTest, AClientThatDiesEndsTheNodesReads) {
  LinkServerFixture node(nullptr, kRing);
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  RawLocalClient client = ConnectRaw(node.server().local_name(), token);
  ASSERT_TRUE(client.rings.ok()) << client.rings.status();
  absl::StatusOr<std::shared_ptr<Connection>> connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok()) << connection.status();
  ClientLink at_node(*connection);
  std::thread death([&] {
    // What the kernel does when the client process ends: its socket closes.
    client.socket.reset();
  });
  std::string payload;
  absl::StatusOr<FrameHeader> h = at_node.ReadInto(payload, 1 << 20);
  death.join();
  ASSERT_FALSE(h.ok());
  EXPECT_FALSE(absl::IsOutOfRange(h.status())) << "a death is no clean end: " << h.status();
}

TEST(LocalLinkTest, ACorruptRingIsAnErrorAndOthersAreStillServed) {
  LinkServerFixture node(nullptr, kRing);
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token);
  RawLocalClient hostile = ConnectRaw(node.server().local_name(), token);
  ASSERT_TRUE(hostile.rings.ok()) << hostile.rings.status();
  absl::StatusOr<std::shared_ptr<Connection>> connection = offer->Await(kWait);
  ASSERT_TRUE(connection.ok()) << connection.status();
  ClientLink at_node(*connection);

  // The client claims to have written far more than the ring holds.
  const int ring_fd = hostile.rings->to_node.ring.fd();
  void* page = mmap(nullptr, ShmRing::kControlBytes, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
  ASSERT_NE(page, MAP_FAILED);
  const uint64_t head = uint64_t{1} << 40;
  std::memcpy(static_cast<char*>(page) + 64, &head, sizeof(head));
  munmap(page, ShmRing::kControlBytes);
  ASSERT_EQ(eventfd_write(hostile.rings->to_node.data.get(), 1), 0);

  std::string payload;
  absl::StatusOr<FrameHeader> h = at_node.ReadInto(payload, 1 << 20);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("ring"));

  // The next client is served as if nothing happened.
  const std::string next_token = NewClientLinkToken();
  auto next_offer = node.Offer(next_token);
  auto next = ClientLink::ConnectLocal(node.server().local_name(), next_token, kWait);
  ASSERT_TRUE(next.ok()) << next.status();
  auto next_connection = next_offer->Await(kWait);
  ASSERT_TRUE(next_connection.ok()) << next_connection.status();
  ClientLink next_at_node(*next_connection);
  ExpectEcho(**next, next_at_node, "still here");
}

}  // namespace
}  // namespace canopy::wire
