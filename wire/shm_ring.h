#ifndef CANOPY_WIRE_SHM_RING_H_
#define CANOPY_WIRE_SHM_RING_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "boost/asio/buffer.hpp"
#include "wire/unique_fd.h"

namespace canopy::wire {

// One single-producer, single-consumer byte ring in shared memory: a
// memfd sealed against shrinking and growing, mapped by both processes of
// a local link (docs/wire-format.md, "Local links", has the layout). It
// carries the same frame stream a TCP client link does, as a pipe would,
// without a system call per write while the peer is awake.
//
// The peer is not trusted: every position it publishes is checked against
// the capacity and the last one seen before a byte moves, a position that
// does not add up poisons the ring (DataLoss, for good), and the seals
// make sure the memory cannot vanish under a reader (no SIGBUS). What a
// consumer reads it copies out before anybody checks it.
//
// Wake-ups are the caller's (eventfds in ShmStream): a side about to sleep
// calls PrepareToWait and sleeps only if it still has nothing to do; the
// other side's Commit/Consume return whether that sleeper needs a signal.
//
// Thread-compatible: one producer and one consumer, each its own object
// mapping the same memfd, in one or two processes.
class ShmRing {
 public:
  static constexpr size_t kControlBytes = 4096;
  static constexpr size_t kMinCapacity = 4096;
  static constexpr size_t kMaxCapacity = size_t{1} << 30;

  // Creates a ring of `capacity` data bytes (a power of two within
  // [kMinCapacity, kMaxCapacity]) in a new sealed memfd. InvalidArgument
  // for another capacity, ResourceExhausted / Internal when the kernel
  // refuses.
  static absl::StatusOr<ShmRing> Create(size_t capacity);
  // Maps the ring in `fd` (received from the peer). InvalidArgument if it
  // is not a sealed memfd of the size its header announces, or the header
  // is not a ring's.
  static absl::StatusOr<ShmRing> Map(UniqueFd fd);

  ShmRing(ShmRing&& other) noexcept;
  ShmRing& operator=(ShmRing&& other) noexcept;
  ShmRing(const ShmRing&) = delete;
  ShmRing& operator=(const ShmRing&) = delete;
  ~ShmRing();

  // The memfd, to hand to the peer; -1 after CloseFd().
  int fd() const { return fd_.get(); }
  // Closes the memfd once the ring was handed over; the mapping stays, so
  // a link holds no descriptor for its rings.
  void CloseFd() { fd_.reset(); }
  size_t capacity() const { return capacity_; }

  // --- Producer side.
  // Copies as much of `parts` (from byte `skip` of their concatenation) as
  // there is room for and publishes it; returns the bytes written (0 when
  // full). Sets *wake_consumer when the consumer sleeps and must be
  // signalled. FailedPrecondition once the consumer closed its end,
  // DataLoss for a corrupt consumer position.
  absl::StatusOr<size_t> Write(absl::Span<const boost::asio::const_buffer> parts, size_t skip,
                               bool* wake_consumer);
  // Marks the end of the stream (the consumer reads a clean end after the
  // bytes written). Returns whether the consumer must be signalled.
  bool CloseProducer();
  // Announces that the producer will sleep until signalled; returns false
  // (do not sleep) if room appeared meanwhile or the consumer closed.
  bool PrepareToWaitForRoom();

  // --- Consumer side.
  // Copies up to `dst.size()` bytes out of the ring and frees their room;
  // returns how many (0 when empty). Sets *wake_producer when the producer
  // sleeps and must be signalled. DataLoss for a corrupt producer position.
  absl::StatusOr<size_t> Read(absl::Span<char> dst, bool* wake_producer);
  // True once the producer closed and every byte it wrote was read.
  bool AtEnd();
  // Marks that the consumer reads no more (the producer's writes fail).
  // Returns whether the producer must be signalled.
  bool CloseConsumer();
  // Announces that the consumer will sleep until signalled; returns false
  // (do not sleep) if bytes or the end arrived meanwhile.
  bool PrepareToWaitForData();

  struct Control;  // the shared first page (shm_ring.cc)

 private:
  ShmRing(UniqueFd fd, void* mapping, size_t capacity);
  Control& control() const;
  char* data() const;
  // The producer's published position, checked; DataLoss if it does not
  // add up (then for good).
  absl::StatusOr<uint64_t> CheckedHead();
  absl::StatusOr<uint64_t> CheckedTail();

  UniqueFd fd_;
  void* mapping_ = nullptr;
  size_t capacity_ = 0;
  // The positions as this side knows them: its own is authoritative (the
  // shared copy is only published to), the peer's the last one checked.
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  bool poisoned_ = false;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_SHM_RING_H_
