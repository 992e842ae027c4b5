#ifndef CANOPY_NODE_MULTICAST_DATAGRAM_H_
#define CANOPY_NODE_MULTICAST_DATAGRAM_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "wire/frame.h"

namespace canopy::node {

// A frame sent by LAN multicast travels in UDP datagrams small enough not to
// be fragmented by IP (docs/wire-format.md "Native multicast"): each holds a
// 24-byte header — "CNM1", group handle, source id, sequence (the frame's),
// fragment index and count (big-endian) — and the next slice of the frame's
// bytes. Every slice but the last has the same size.
inline constexpr size_t kDatagramHeaderBytes = 24;
// Fewest bytes a datagram may carry in all (header + slice).
inline constexpr size_t kMinDatagramBytes = 256;
// Most fragments one frame may be cut into.
inline constexpr uint32_t kMaxFragments = 65535;

// Bytes of the frame each datagram of `datagram_bytes` carries.
// REQUIRES: datagram_bytes >= kMinDatagramBytes.
inline size_t SliceBytes(size_t datagram_bytes) { return datagram_bytes - kDatagramHeaderBytes; }

// Datagrams needed for `frame_bytes` (at least 1).
uint32_t FragmentCount(size_t frame_bytes, size_t datagram_bytes);

// The header of fragment `index` of `count` of `frame`.
std::array<char, kDatagramHeaderBytes> DatagramHeader(const wire::FrameHeader& frame,
                                                      uint32_t index, uint32_t count);

// Puts frames back together from their datagrams, whatever order the
// datagrams arrive in, and verifies each (wire::Frame::Adopt). Partial frames
// are dropped when older than `max_age` or when more than `max_pending_bytes`
// are held (oldest first). Thread-compatible.
class FrameReassembler {
 public:
  FrameReassembler(uint32_t max_payload, absl::Duration max_age, size_t max_pending_bytes);

  // Takes one datagram. Returns the frame it completed, nullptr if the frame
  // is still incomplete (or a duplicate fragment), or InvalidArgument /
  // DataLoss for a malformed datagram or frame (the caller counts and
  // ignores it).
  absl::StatusOr<wire::FramePtr> Add(absl::string_view datagram, absl::Time now);

  // Partial frames dropped so far (too old, or over the byte bound).
  uint64_t abandoned() const { return abandoned_; }
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  using Key = std::tuple<uint32_t, uint32_t, uint64_t>;  // group handle, source id, sequence
  struct Partial {
    std::vector<std::string> slices;  // by index; empty = not yet here
    uint32_t have = 0;
    size_t bytes = 0;
    absl::Time first_seen;
  };
  void Evict(absl::Time now);

  const uint32_t max_payload_;
  const absl::Duration max_age_;
  const size_t max_pending_bytes_;
  std::map<Key, Partial> pending_;
  size_t pending_bytes_ = 0;
  uint64_t abandoned_ = 0;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_MULTICAST_DATAGRAM_H_
