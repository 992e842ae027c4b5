#include "wire/frame.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"
#define XXH_STATIC_LINKING_ONLY  // for XXH3_state_t on the stack
#include "xxhash.h"
#if (defined(__x86_64__) || defined(__i386__)) && !defined(XXH_INLINE_ALL) && \
    __has_include("xxh_x86dispatch.h")
// Picks the widest vector unit (SSE2 / AVX2 / AVX-512) at run time; the
// plain entry points of a portable libxxhash build are several times slower.
// (The fuzzer inlines xxHash instead, so ASan sees its reads.)
#include "xxh_x86dispatch.h"
#endif

namespace canopy::wire {
namespace {

namespace endian = boost::endian;

constexpr size_t kChecksumOffset = 24;

unsigned char* Bytes(char* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* Bytes(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

void PutHeader(const FrameHeader& h, char* out) {
  endian::store_big_u16(Bytes(out), kMagic);
  out[2] = static_cast<char>(kVersion);
  out[3] = static_cast<char>(h.type);
  endian::store_big_u32(Bytes(out + 4), h.group_handle);
  endian::store_big_u32(Bytes(out + 8), h.source_id);
  endian::store_big_u32(Bytes(out + 12), h.length);
  endian::store_big_u64(Bytes(out + 16), h.sequence);
  endian::store_big_u64(Bytes(out + kChecksumOffset), h.checksum);
}

bool KnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(FrameType::kHello) &&
         type <= static_cast<uint8_t>(FrameType::kAckSummary);
}

}  // namespace

bool IsControl(FrameType type) {
  return type == FrameType::kResume || type == FrameType::kGap || type == FrameType::kPing ||
         type == FrameType::kPong || type == FrameType::kSource || type == FrameType::kAck;
}

FrameBuffer::FrameBuffer(size_t size)
    : data_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}

FrameBuffer FrameBuffer::CopyOf(absl::string_view bytes) {
  FrameBuffer b(bytes.size());
  if (!bytes.empty()) std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

uint64_t FrameChecksum(absl::string_view header, absl::string_view payload) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header.data(), kChecksumOffset);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

absl::StatusOr<FrameHeader> DecodeHeader(absl::string_view header, uint32_t max_payload) {
  if (header.size() < kHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame header truncated: ", header.size(), " of ", kHeaderSize, " bytes"));
  }
  const char* p = header.data();
  const uint16_t magic = endian::load_big_u16(Bytes(p));
  if (magic != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad frame magic 0x", absl::Hex(magic), ", want 0x", absl::Hex(kMagic)));
  }
  const auto version = static_cast<uint8_t>(p[2]);
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported frame version ", version, ", want ", kVersion));
  }
  const auto type = static_cast<uint8_t>(p[3]);
  if (!KnownType(type)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown frame type ", type));
  }
  FrameHeader h;
  h.type = static_cast<FrameType>(type);
  h.group_handle = endian::load_big_u32(Bytes(p + 4));
  h.source_id = endian::load_big_u32(Bytes(p + 8));
  h.length = endian::load_big_u32(Bytes(p + 12));
  h.sequence = endian::load_big_u64(Bytes(p + 16));
  h.checksum = endian::load_big_u64(Bytes(p + kChecksumOffset));
  if (IsControl(h.type) && h.length > kMaxControlPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("control frame payload of ", h.length, " bytes exceeds ", kMaxControlPayload));
  }
  if (h.type == FrameType::kAckSummary && h.length > kMaxAckSummaryPayload) {
    return absl::InvalidArgumentError(absl::StrCat("ACK_SUMMARY payload of ", h.length,
                                                   " bytes exceeds ", kMaxAckSummaryPayload));
  }
  if (h.length > max_payload) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame payload of ", h.length, " bytes exceeds the limit of ", max_payload));
  }
  return h;
}

namespace {

// Writes the header of a frame whose payload is `payload_parts` concatenated
// into `out`, checksum included, and returns it.
FrameHeader Encode(FrameType type, uint32_t group_handle, uint32_t source_id, uint64_t sequence,
                   absl::Span<const absl::string_view> payload_parts, char* out) {
  size_t length = 0;
  for (absl::string_view part : payload_parts) length += part.size();
  FrameHeader h;
  h.type = type;
  h.group_handle = group_handle;
  h.source_id = source_id;
  h.length = static_cast<uint32_t>(length);
  h.sequence = sequence;
  PutHeader(h, out);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, out, kChecksumOffset);
  for (absl::string_view part : payload_parts) XXH3_64bits_update(&state, part.data(), part.size());
  h.checksum = XXH3_64bits_digest(&state);
  endian::store_big_u64(Bytes(out + kChecksumOffset), h.checksum);
  return h;
}

}  // namespace

void EncodeHeader(FrameType type, uint32_t group_handle, uint32_t source_id, uint64_t sequence,
                  absl::string_view payload, char* out) {
  const absl::string_view parts[] = {payload};
  Encode(type, group_handle, source_id, sequence, parts, out);
}

void EncodeHeader(FrameType type, uint32_t group_handle, uint32_t source_id, uint64_t sequence,
                  absl::Span<const absl::string_view> payload_parts, char* out) {
  Encode(type, group_handle, source_id, sequence, payload_parts, out);
}

std::shared_ptr<const Frame> Frame::Make(FrameType type, uint32_t group_handle, uint32_t source_id,
                                         uint64_t sequence, absl::string_view payload) {
  FrameBuffer bytes(kHeaderSize + payload.size());
  if (!payload.empty()) std::memcpy(bytes.data() + kHeaderSize, payload.data(), payload.size());
  const absl::string_view parts[] = {absl::string_view(bytes.data() + kHeaderSize, payload.size())};
  const FrameHeader h = Encode(type, group_handle, source_id, sequence, parts, bytes.data());
  return std::shared_ptr<const Frame>(new Frame(std::move(bytes), h));
}

namespace {

// Validates everything Adopt() checks except the checksum.
absl::StatusOr<FrameHeader> CheckShape(const FrameBuffer& bytes, uint32_t max_payload) {
  absl::StatusOr<FrameHeader> h = DecodeHeader(bytes.view(), max_payload);
  if (!h.ok()) return h.status();
  if (bytes.size() != kHeaderSize + h->length) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", bytes.size(), " bytes, header says ", kHeaderSize + h->length));
  }
  return h;
}

absl::Status ChecksumMismatch(const FrameHeader& h) {
  return absl::DataLossError(absl::StrCat("frame checksum mismatch (group ", h.group_handle,
                                          " source ", h.source_id, " sequence ", h.sequence, ")"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Frame>> Frame::Adopt(FrameBuffer bytes, uint32_t max_payload) {
  absl::StatusOr<FrameHeader> h = CheckShape(bytes, max_payload);
  if (!h.ok()) return h.status();
  if (FrameChecksum(bytes.view(), bytes.view().substr(kHeaderSize)) != h->checksum) {
    return ChecksumMismatch(*h);
  }
  return std::shared_ptr<const Frame>(new Frame(std::move(bytes), *h));
}

absl::StatusOr<std::shared_ptr<const Frame>> Frame::Restamp(FrameBuffer bytes, uint32_t max_payload,
                                                            uint32_t group_handle,
                                                            uint32_t source_id, uint64_t sequence) {
  absl::StatusOr<FrameHeader> h = CheckShape(bytes, max_payload);
  if (!h.ok()) return h.status();
  if (h->type != FrameType::kData) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a DATA frame, got type ", static_cast<int>(h->type)));
  }
  FrameHeader restamped = *h;
  restamped.group_handle = group_handle;
  restamped.source_id = source_id;
  restamped.sequence = sequence;
  std::array<char, kHeaderSize> new_header;
  PutHeader(restamped, new_header.data());

  // Both digests advance over the same slice while it is in cache.
  constexpr size_t kSlice = 64 << 10;
  XXH3_state_t received, stamped;
  XXH3_64bits_reset(&received);
  XXH3_64bits_reset(&stamped);
  XXH3_64bits_update(&received, bytes.data(), kChecksumOffset);
  XXH3_64bits_update(&stamped, new_header.data(), kChecksumOffset);
  const absl::string_view payload = bytes.view().substr(kHeaderSize);
  for (size_t at = 0; at < payload.size(); at += kSlice) {
    const size_t n = std::min(kSlice, payload.size() - at);
    XXH3_64bits_update(&received, payload.data() + at, n);
    XXH3_64bits_update(&stamped, payload.data() + at, n);
  }
  if (XXH3_64bits_digest(&received) != h->checksum) return ChecksumMismatch(*h);
  restamped.checksum = XXH3_64bits_digest(&stamped);
  PutHeader(restamped, bytes.data());
  return std::shared_ptr<const Frame>(new Frame(std::move(bytes), restamped));
}

}  // namespace canopy::wire
