#include "wire/frame.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"
#define XXH_STATIC_LINKING_ONLY  // for XXH3_state_t on the stack
#include "xxhash.h"

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
         type <= static_cast<uint8_t>(FrameType::kPong);
}

}  // namespace

bool IsControl(FrameType type) {
  return type == FrameType::kResume || type == FrameType::kGap || type == FrameType::kPing ||
         type == FrameType::kPong;
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
    return absl::InvalidArgumentError(absl::StrCat("control frame payload of ", h.length,
                                                   " bytes exceeds ", kMaxControlPayload));
  }
  if (h.length > max_payload) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame payload of ", h.length, " bytes exceeds the limit of ", max_payload));
  }
  return h;
}

std::shared_ptr<const Frame> Frame::Make(FrameType type, uint32_t group_handle, uint32_t source_id,
                                         uint64_t sequence, absl::string_view payload) {
  // Header placeholder, then the payload appended: no zero-fill of the
  // payload bytes that are overwritten anyway.
  std::string bytes;
  bytes.reserve(kHeaderSize + payload.size());
  bytes.append(kHeaderSize, '\0');
  bytes.append(payload.data(), payload.size());
  FrameHeader h;
  h.type = type;
  h.group_handle = group_handle;
  h.source_id = source_id;
  h.length = static_cast<uint32_t>(payload.size());
  h.sequence = sequence;
  PutHeader(h, bytes.data());
  h.checksum = FrameChecksum(bytes, payload);
  endian::store_big_u64(Bytes(bytes.data() + kChecksumOffset), h.checksum);
  return std::shared_ptr<const Frame>(new Frame(std::move(bytes), h));
}

absl::StatusOr<std::shared_ptr<const Frame>> Frame::Adopt(std::string bytes, uint32_t max_payload) {
  absl::StatusOr<FrameHeader> h = DecodeHeader(bytes, max_payload);
  if (!h.ok()) return h.status();
  if (bytes.size() != kHeaderSize + h->length) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", bytes.size(), " bytes, header says ", kHeaderSize + h->length));
  }
  absl::string_view payload = absl::string_view(bytes).substr(kHeaderSize);
  const uint64_t want = FrameChecksum(bytes, payload);
  if (want != h->checksum) {
    return absl::DataLossError(absl::StrCat("frame checksum mismatch (group ", h->group_handle,
                                            " source ", h->source_id, " sequence ", h->sequence,
                                            ")"));
  }
  return std::shared_ptr<const Frame>(new Frame(std::move(bytes), *h));
}

}  // namespace canopy::wire
