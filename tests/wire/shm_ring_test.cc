// The shared-memory ring of local links: bytes come out as they went in,
// across the wrap; a full ring takes nothing; a peer that scribbles over
// the positions, hands over something that is not a ring, or goes away is
// met with a clean error, never a wild read.

#include "wire/shm_ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::wire {
namespace {

constexpr size_t kCapacity = ShmRing::kMinCapacity;
// Offsets in the control page (docs/wire-format.md, "Local links").
constexpr size_t kHeadOffset = 64;
constexpr size_t kTailOffset = 128;

// The consumer's view of a ring: a second mapping of the same memfd, as
// the peer process has.
ShmRing PeerOf(const ShmRing& ring) {
  absl::StatusOr<ShmRing> peer = ShmRing::Map(UniqueFd(dup(ring.fd())));
  EXPECT_TRUE(peer.ok()) << peer.status();
  return *std::move(peer);
}

absl::StatusOr<size_t> WriteString(ShmRing& ring, const std::string& s, size_t skip = 0) {
  const boost::asio::const_buffer parts[] = {boost::asio::buffer(s)};
  bool wake = false;
  return ring.Write(parts, skip, &wake);
}

std::string ReadAll(ShmRing& ring, size_t max) {
  std::string out(max, '\0');
  bool wake = false;
  absl::StatusOr<size_t> n = ring.Read(absl::MakeSpan(out), &wake);
  EXPECT_TRUE(n.ok()) << n.status();
  out.resize(n.ok() ? *n : 0);
  return out;
}

// Writes `value` at `offset` of the ring's memfd, as a hostile peer would.
void Scribble(const ShmRing& ring, size_t offset, uint64_t value) {
  void* page = mmap(nullptr, ShmRing::kControlBytes, PROT_READ | PROT_WRITE, MAP_SHARED, ring.fd(), 0);
  ASSERT_NE(page, MAP_FAILED);
  std::memcpy(static_cast<char*>(page) + offset, &value, sizeof(value));
  munmap(page, ShmRing::kControlBytes);
}

TEST(ShmRingTest, BytesArriveInOrderAcrossTheWrap) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ShmRing consumer = PeerOf(*producer);
  std::string sent, received;
  for (int round = 0; round < 40; ++round) {
    // 1000 bytes a round: the 4096-byte ring wraps every few rounds.
    std::string chunk(1000, '\0');
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + (round + i) % 26);
    ASSERT_EQ(*WriteString(*producer, chunk), chunk.size());
    sent += chunk;
    received += ReadAll(consumer, 700);
    received += ReadAll(consumer, 700);
  }
  received += ReadAll(consumer, kCapacity);
  EXPECT_EQ(received, sent);
}

TEST(ShmRingTest, AFullRingTakesNothingUntilRead) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  const std::string big(kCapacity + 100, 'x');
  EXPECT_EQ(*WriteString(*producer, big), kCapacity);
  EXPECT_EQ(*WriteString(*producer, big, kCapacity), 0u);
  // A producer about to sleep is told not to once room appears, and the
  // reader learns it must wake it.
  EXPECT_TRUE(producer->PrepareToWaitForRoom());
  std::string out(10, '\0');
  bool wake_producer = false;
  EXPECT_EQ(*consumer.Read(absl::MakeSpan(out), &wake_producer), 10u);
  EXPECT_TRUE(wake_producer);
  EXPECT_EQ(*WriteString(*producer, big, kCapacity), 10u);
}

TEST(ShmRingTest, CloseIsAnEndAfterTheLastByte) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  ASSERT_EQ(*WriteString(*producer, "last words"), 10u);
  producer->CloseProducer();
  EXPECT_FALSE(consumer.AtEnd());
  EXPECT_EQ(ReadAll(consumer, 100), "last words");
  EXPECT_TRUE(consumer.AtEnd());
}

TEST(ShmRingTest, WritesFailOnceTheConsumerClosed) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  consumer.CloseConsumer();
  absl::StatusOr<size_t> n = WriteString(*producer, "anyone?");
  EXPECT_TRUE(absl::IsFailedPrecondition(n.status())) << n.status();
}

TEST(ShmRingTest, AHeadBeyondTheCapacityIsDataLossForGood) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  ASSERT_EQ(*WriteString(*producer, "fine"), 4u);
  // The peer claims more bytes than the ring can hold.
  Scribble(*producer, kHeadOffset, 10 * kCapacity);
  std::string out(100, '\0');
  bool wake = false;
  EXPECT_TRUE(absl::IsDataLoss(consumer.Read(absl::MakeSpan(out), &wake).status()));
  // Even a sane position afterwards does not revive it.
  Scribble(*producer, kHeadOffset, 4);
  EXPECT_TRUE(absl::IsDataLoss(consumer.Read(absl::MakeSpan(out), &wake).status()));
}

TEST(ShmRingTest, AHeadThatGoesBackwardsIsDataLoss) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  ASSERT_EQ(*WriteString(*producer, "0123456789"), 10u);
  EXPECT_EQ(ReadAll(consumer, 10), "0123456789");
  Scribble(*producer, kHeadOffset, 3);
  std::string out(100, '\0');
  bool wake = false;
  EXPECT_TRUE(absl::IsDataLoss(consumer.Read(absl::MakeSpan(out), &wake).status()));
}

TEST(ShmRingTest, ATailAheadOfTheHeadIsDataLoss) {
  absl::StatusOr<ShmRing> producer = ShmRing::Create(kCapacity);
  ASSERT_TRUE(producer.ok());
  ShmRing consumer = PeerOf(*producer);
  // The consumer claims to have read bytes never written: the producer
  // would overwrite what it has not yet handed over.
  Scribble(*producer, kTailOffset, 5000);
  EXPECT_TRUE(absl::IsDataLoss(WriteString(*producer, "x").status()));
}

TEST(ShmRingTest, CapacityMustBeAPowerOfTwoInRange) {
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Create(5000).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Create(1024).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Create(ShmRing::kMaxCapacity * 2).status()));
}

TEST(ShmRingTest, MapRefusesWhatIsNotASealedRing) {
  // A plain memfd, unsealed: the peer could shrink it under the reader.
  UniqueFd unsealed(memfd_create("not-a-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_TRUE(unsealed.valid());
  ASSERT_EQ(ftruncate(unsealed.get(), ShmRing::kControlBytes + kCapacity), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Map(std::move(unsealed)).status()));

  // Sealed, the right size, but no ring header.
  UniqueFd blank(memfd_create("blank", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_EQ(ftruncate(blank.get(), ShmRing::kControlBytes + kCapacity), 0);
  ASSERT_EQ(fcntl(blank.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Map(std::move(blank)).status()));

  // A real ring whose header announces a capacity the file does not have.
  absl::StatusOr<ShmRing> ring = ShmRing::Create(kCapacity);
  ASSERT_TRUE(ring.ok());
  Scribble(*ring, 16, 2 * kCapacity);
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Map(UniqueFd(dup(ring->fd()))).status()));

  // Not a memfd at all.
  int ends[2];
  ASSERT_EQ(pipe(ends), 0);
  close(ends[1]);
  EXPECT_TRUE(absl::IsInvalidArgument(ShmRing::Map(UniqueFd(ends[0])).status()));
}

}  // namespace
}  // namespace canopy::wire
