#ifndef CANOPY_WIRE_FRAME_H_
#define CANOPY_WIRE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace canopy::wire {

// Layout of docs/wire-format.md, version 1. All integers big-endian.
inline constexpr size_t kHeaderSize = 32;
inline constexpr uint16_t kMagic = 0xCA70;
inline constexpr uint8_t kVersion = 1;
// Largest payload a decoder accepts unless configured otherwise.
inline constexpr uint32_t kDefaultMaxPayload = 16u << 20;
// Largest payload any end may be configured to accept (canopy-node
// --max-payload at most), and the most a client believes a node that
// advertises more: no frame, whoever sent it, makes a reader allocate more.
inline constexpr uint32_t kMaxPayloadLimit = 256u << 20;

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
  // Node → local subscriber on a client link: the DATA frames that follow
  // come from the source named in the payload.
  kSource = 7,
  // Subscriber → its node on a client link: it holds an object verified
  // (wire/ack_frames.h).
  kAck = 8,
  // Child → parent: how the child's subtree stands for an object
  // (wire/ack_frames.h).
  kAckSummary = 9,
};

// A HELLO payload ending in this marks a probe link (PING/PONG only).
inline constexpr absl::string_view kProbeHelloSuffix = "#probe";

// Largest payload of a RESUME, GAP, PING, PONG, SOURCE or ACK frame.
inline constexpr uint32_t kMaxControlPayload = 64;
// Largest payload of an ACK_SUMMARY frame (its names included).
inline constexpr uint32_t kMaxAckSummaryPayload = 4096;

// True for RESUME, GAP, PING, PONG, SOURCE and ACK.
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

// Bytes of one frame being read from a socket: allocated once at the size
// the header announced and never zero-filled (every byte is overwritten).
// Move-only.
class FrameBuffer {
 public:
  FrameBuffer() = default;
  explicit FrameBuffer(size_t size);
  // A buffer holding a copy of `bytes`.
  static FrameBuffer CopyOf(absl::string_view bytes);

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  absl::string_view view() const { return absl::string_view(data_.get(), size_); }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
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
  static absl::StatusOr<std::shared_ptr<const Frame>> Adopt(FrameBuffer bytes,
                                                            uint32_t max_payload);
  static absl::StatusOr<std::shared_ptr<const Frame>> Adopt(absl::string_view bytes,
                                                            uint32_t max_payload) {
    return Adopt(FrameBuffer::CopyOf(bytes), max_payload);
  }

  // Adopts a DATA frame a local publisher sent and gives it a new identity:
  // verifies the frame as Adopt() does, then rewrites group handle, source
  // id and sequence and the checksum, in one pass over the payload.
  // Returns the errors of Adopt(), or InvalidArgument for a frame that is
  // not DATA.
  static absl::StatusOr<std::shared_ptr<const Frame>> Restamp(FrameBuffer bytes,
                                                              uint32_t max_payload,
                                                              uint32_t group_handle,
                                                              uint32_t source_id,
                                                              uint64_t sequence);

  const FrameHeader& header() const { return header_; }
  // The whole encoded frame, as sent on the wire.
  absl::string_view bytes() const { return bytes_.view(); }
  absl::string_view payload() const { return bytes_.view().substr(kHeaderSize); }

 private:
  Frame(FrameBuffer bytes, FrameHeader header) : bytes_(std::move(bytes)), header_(header) {}

  const FrameBuffer bytes_;
  const FrameHeader header_;
};

using FramePtr = std::shared_ptr<const Frame>;

// Decodes and validates the fixed header (magic, version, type, length <=
// max_payload, <= kMaxControlPayload for control frames and <=
// kMaxAckSummaryPayload for ACK_SUMMARY). The checksum is not verified
// here: it covers the payload. REQUIRES: header.size() >= kHeaderSize.
absl::StatusOr<FrameHeader> DecodeHeader(absl::string_view header, uint32_t max_payload);

// Checksum of a frame: XXH3-64 over header bytes [0, 24) then the payload.
// REQUIRES: header.size() >= 24.
uint64_t FrameChecksum(absl::string_view header, absl::string_view payload);

// Encodes the header of a frame with `payload` into `out` (kHeaderSize
// bytes), checksum included, so header and payload can be written without
// first being copied into one buffer.
void EncodeHeader(FrameType type, uint32_t group_handle, uint32_t source_id, uint64_t sequence,
                  absl::string_view payload, char* out);
// The same for a payload made of `payload_parts` concatenated.
void EncodeHeader(FrameType type, uint32_t group_handle, uint32_t source_id, uint64_t sequence,
                  absl::Span<const absl::string_view> payload_parts, char* out);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_FRAME_H_
