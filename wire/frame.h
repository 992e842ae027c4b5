#ifndef CANOPY_WIRE_FRAME_H_
#define CANOPY_WIRE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::wire {

// Layout of docs/wire-format.md, version 1. All integers big-endian.
inline constexpr size_t kHeaderSize = 32;
inline constexpr uint16_t kMagic = 0xCA70;
inline constexpr uint8_t kVersion = 1;
// Largest payload a decoder accepts unless configured otherwise.
inline constexpr uint32_t kDefaultMaxPayload = 16u << 20;

enum class FrameType : uint8_t {
  // First frame on every link: payload = the sending node's id.
  kHello = 1,
  // One message of a (group, source) flow.
  kData = 2,
  // Child → parent: "resend the flow after `sequence`" (docs/wire-format.md).
  kResume = 3,
  // Parent → child: sequences [`sequence`, next) are gone for good.
  kGap = 4,
  // Either side: a probe; the receiver answers PONG with the same payload.
  kPing = 5,
  kPong = 6,
};

// A HELLO payload ending in this marks a probe link (PING/PONG only).
inline constexpr absl::string_view kProbeHelloSuffix = "#probe";

// Largest payload of a RESUME, GAP, PING or PONG frame.
inline constexpr uint32_t kMaxControlPayload = 64;

// True for RESUME, GAP, PING and PONG.
bool IsControl(FrameType type);

// The decoded fixed header of one frame.
struct FrameHeader {
  FrameType type = FrameType::kData;
  uint32_t group_handle = 0;
  uint32_t source_id = 0;
  uint32_t length = 0;    // payload bytes
  uint64_t sequence = 0;  // per (group, source), from 1; 0 for kHello
  uint64_t checksum = 0;  // XXH3-64 of header bytes [0, 24) then payload
};

// One encoded frame (header followed by payload) in a single immutable
// buffer. Frames are shared, never copied, between every link that sends
// them. Thread-safe: immutable after construction.
class Frame {
 public:
  // Encodes a frame; computes length and checksum.
  static std::shared_ptr<const Frame> Make(FrameType type, uint32_t group_handle,
                                           uint32_t source_id, uint64_t sequence,
                                           absl::string_view payload);

  // Adopts `bytes` (a header and payload read from a link) after validating
  // magic, version, type, length against `max_payload`, and checksum.
  // Returns InvalidArgument / DataLoss with a message saying what is wrong.
  static absl::StatusOr<std::shared_ptr<const Frame>> Adopt(std::string bytes,
                                                            uint32_t max_payload);

  const FrameHeader& header() const { return header_; }
  // The whole encoded frame, as sent on the wire.
  absl::string_view bytes() const { return bytes_; }
  absl::string_view payload() const { return absl::string_view(bytes_).substr(kHeaderSize); }

 private:
  Frame(std::string bytes, FrameHeader header) : bytes_(std::move(bytes)), header_(header) {}

  const std::string bytes_;
  const FrameHeader header_;
};

using FramePtr = std::shared_ptr<const Frame>;

// Decodes and validates the fixed header (magic, version, type, length <=
// max_payload, and <= kMaxControlPayload for control frames). The checksum is not verified here: it covers the payload.
// REQUIRES: header.size() >= kHeaderSize.
absl::StatusOr<FrameHeader> DecodeHeader(absl::string_view header, uint32_t max_payload);

// Checksum of a frame: XXH3-64 over header bytes [0, 24) then the payload.
// REQUIRES: header.size() >= 24.
uint64_t FrameChecksum(absl::string_view header, absl::string_view payload);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_FRAME_H_
