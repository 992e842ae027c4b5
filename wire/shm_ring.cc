#include "wire/shm_ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace canopy::wire {
namespace {

constexpr uint64_t kMagic = 0x31474e5259504e43;  // "CNPYRNG1", little-endian
constexpr uint32_t kVersion = 1;
constexpr unsigned kSeals = F_SEAL_SHRINK | F_SEAL_GROW;

bool PowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

std::string Errno(absl::string_view what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

}  // namespace

// The first page of the memfd. Each side writes only its own line (and
// clears the other side's waiting flag when it signals it).
struct ShmRing::Control {
  uint64_t magic;
  uint32_t version;
  uint32_t control_bytes;
  uint64_t capacity;
  alignas(64) uint64_t head;         // bytes ever written; producer's
  uint32_t producer_closed;          // producer's
  uint32_t producer_waiting;         // producer sets, consumer clears
  alignas(64) uint64_t tail;         // bytes ever read; consumer's
  uint32_t consumer_closed;          // consumer's
  uint32_t consumer_waiting;         // consumer sets, producer clears
};
static_assert(sizeof(ShmRing::Control) <= ShmRing::kControlBytes);
static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free);

absl::StatusOr<ShmRing> ShmRing::Create(size_t capacity) {
  if (!PowerOfTwo(capacity) || capacity < kMinCapacity || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ring's capacity is a power of two from ", kMinCapacity, " to ",
                     kMaxCapacity, " bytes, not ", capacity));
  }
  UniqueFd fd(memfd_create("canopy-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return absl::ResourceExhaustedError(Errno("memfd_create"));
  if (ftruncate(fd.get(), static_cast<off_t>(kControlBytes + capacity)) != 0) {
    return absl::ResourceExhaustedError(Errno("ftruncate of a ring"));
  }
  if (fcntl(fd.get(), F_ADD_SEALS, kSeals | F_SEAL_SEAL) != 0) {
    return absl::InternalError(Errno("sealing a ring"));
  }
  void* mapping =
      mmap(nullptr, kControlBytes + capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mapping == MAP_FAILED) return absl::ResourceExhaustedError(Errno("mmap of a ring"));
  ShmRing ring(std::move(fd), mapping, capacity);
  Control& c = ring.control();
  c.version = kVersion;
  c.control_bytes = kControlBytes;
  c.capacity = capacity;
  std::atomic_ref<uint64_t>(c.magic).store(kMagic, std::memory_order_release);
  return ring;
}

absl::StatusOr<ShmRing> ShmRing::Map(UniqueFd fd) {
  const int seals = fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0 || (static_cast<unsigned>(seals) & kSeals) != kSeals) {
    return absl::InvalidArgumentError(
        "the ring is not a memfd sealed against shrinking and growing");
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return absl::InvalidArgumentError(Errno("fstat of a ring"));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kControlBytes + kMinCapacity || size > kControlBytes + kMaxCapacity ||
      !PowerOfTwo(size - kControlBytes)) {
    return absl::InvalidArgumentError(absl::StrCat("a ring of ", size, " bytes"));
  }
  const size_t capacity = size - kControlBytes;
  void* mapping = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mapping == MAP_FAILED) return absl::ResourceExhaustedError(Errno("mmap of a ring"));
  ShmRing ring(std::move(fd), mapping, capacity);
  Control& c = ring.control();
  if (std::atomic_ref<uint64_t>(c.magic).load(std::memory_order_acquire) != kMagic ||
      c.version != kVersion || c.control_bytes != kControlBytes || c.capacity != capacity) {
    return absl::InvalidArgumentError("the ring's header is not a version-1 ring's");
  }
  // Whichever side this is, start from the positions the peer left.
  const uint64_t tail = std::atomic_ref<uint64_t>(c.tail).load(std::memory_order_acquire);
  const uint64_t head = std::atomic_ref<uint64_t>(c.head).load(std::memory_order_acquire);
  if (head < tail || head - tail > capacity) {
    return absl::InvalidArgumentError("the ring's positions do not add up");
  }
  ring.head_ = head;
  ring.tail_ = tail;
  return ring;
}

ShmRing::ShmRing(UniqueFd fd, void* mapping, size_t capacity)
    : fd_(std::move(fd)), mapping_(mapping), capacity_(capacity) {}

ShmRing::ShmRing(ShmRing&& other) noexcept
    : fd_(std::move(other.fd_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      capacity_(other.capacity_),
      head_(other.head_),
      tail_(other.tail_),
      poisoned_(other.poisoned_) {}

ShmRing& ShmRing::operator=(ShmRing&& other) noexcept {
  if (this == &other) return *this;
  if (mapping_ != nullptr) munmap(mapping_, kControlBytes + capacity_);
  fd_ = std::move(other.fd_);
  mapping_ = std::exchange(other.mapping_, nullptr);
  capacity_ = other.capacity_;
  head_ = other.head_;
  tail_ = other.tail_;
  poisoned_ = other.poisoned_;
  return *this;
}

ShmRing::~ShmRing() {
  if (mapping_ != nullptr) munmap(mapping_, kControlBytes + capacity_);
}

ShmRing::Control& ShmRing::control() const { return *static_cast<Control*>(mapping_); }

char* ShmRing::data() const { return static_cast<char*>(mapping_) + kControlBytes; }

absl::StatusOr<uint64_t> ShmRing::CheckedTail() {
  if (poisoned_) return absl::DataLossError("the ring's consumer position was corrupt");
  const uint64_t tail = std::atomic_ref<uint64_t>(control().tail).load(std::memory_order_acquire);
  if (tail < tail_ || tail > head_) {
    poisoned_ = true;
    return absl::DataLossError(absl::StrCat("the ring's consumer position moved from ", tail_,
                                            " to ", tail, " with ", head_, " bytes written"));
  }
  tail_ = tail;
  return tail;
}

absl::StatusOr<uint64_t> ShmRing::CheckedHead() {
  if (poisoned_) return absl::DataLossError("the ring's producer position was corrupt");
  const uint64_t head = std::atomic_ref<uint64_t>(control().head).load(std::memory_order_acquire);
  if (head < head_ || head - tail_ > capacity_) {
    poisoned_ = true;
    return absl::DataLossError(absl::StrCat("the ring's producer position moved from ", head_,
                                            " to ", head, " with ", tail_, " bytes read"));
  }
  head_ = head;
  return head;
}

absl::StatusOr<size_t> ShmRing::Write(absl::Span<const boost::asio::const_buffer> parts,
                                      size_t skip, bool* wake_consumer) {
  *wake_consumer = false;
  absl::StatusOr<uint64_t> tail = CheckedTail();
  if (!tail.ok()) return tail.status();
  if (std::atomic_ref<uint32_t>(control().consumer_closed).load(std::memory_order_acquire) != 0) {
    return absl::FailedPreconditionError("the ring's consumer closed its end");
  }
  size_t room = capacity_ - static_cast<size_t>(head_ - *tail);
  size_t written = 0;
  for (const boost::asio::const_buffer& part : parts) {
    if (room == 0) break;
    if (skip >= part.size()) {
      skip -= part.size();
      continue;
    }
    const char* from = static_cast<const char*>(part.data()) + skip;
    size_t n = std::min(part.size() - skip, room);
    skip = 0;
    room -= n;
    written += n;
    while (n > 0) {
      const size_t at = static_cast<size_t>(head_ & (capacity_ - 1));
      const size_t run = std::min(n, capacity_ - at);
      std::memcpy(data() + at, from, run);
      from += run;
      n -= run;
      head_ += run;
    }
  }
  if (written == 0) return size_t{0};
  std::atomic_ref<uint64_t>(control().head).store(head_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *wake_consumer =
      std::atomic_ref<uint32_t>(control().consumer_waiting).exchange(0, std::memory_order_acq_rel);
  return written;
}

bool ShmRing::CloseProducer() {
  std::atomic_ref<uint32_t>(control().producer_closed).store(1, std::memory_order_release);
  return true;
}

bool ShmRing::PrepareToWaitForRoom() {
  std::atomic_ref<uint32_t>(control().producer_waiting).store(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  absl::StatusOr<uint64_t> tail = CheckedTail();
  if (!tail.ok()) return false;  // the next Write reports it
  if (std::atomic_ref<uint32_t>(control().consumer_closed).load(std::memory_order_acquire) != 0) {
    return false;
  }
  return head_ - *tail == capacity_;
}

absl::StatusOr<size_t> ShmRing::Read(absl::Span<char> dst, bool* wake_producer) {
  *wake_producer = false;
  absl::StatusOr<uint64_t> head = CheckedHead();
  if (!head.ok()) return head.status();
  size_t n = std::min(dst.size(), static_cast<size_t>(*head - tail_));
  const size_t read = n;
  char* to = dst.data();
  while (n > 0) {
    const size_t at = static_cast<size_t>(tail_ & (capacity_ - 1));
    const size_t run = std::min(n, capacity_ - at);
    std::memcpy(to, data() + at, run);
    to += run;
    n -= run;
    tail_ += run;
  }
  if (read == 0) return size_t{0};
  std::atomic_ref<uint64_t>(control().tail).store(tail_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *wake_producer =
      std::atomic_ref<uint32_t>(control().producer_waiting).exchange(0, std::memory_order_acq_rel);
  return read;
}

bool ShmRing::AtEnd() {
  if (std::atomic_ref<uint32_t>(control().producer_closed).load(std::memory_order_acquire) == 0) {
    return false;
  }
  absl::StatusOr<uint64_t> head = CheckedHead();
  return head.ok() && *head == tail_;
}

bool ShmRing::CloseConsumer() {
  std::atomic_ref<uint32_t>(control().consumer_closed).store(1, std::memory_order_release);
  return true;
}

bool ShmRing::PrepareToWaitForData() {
  std::atomic_ref<uint32_t>(control().consumer_waiting).store(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (std::atomic_ref<uint32_t>(control().producer_closed).load(std::memory_order_acquire) != 0) {
    return false;
  }
  absl::StatusOr<uint64_t> head = CheckedHead();
  if (!head.ok()) return false;  // the next Read reports it
  return *head == tail_;
}

}  // namespace canopy::wire
