#include "wire/ack_frames.h"

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"

namespace canopy::wire {
namespace {

namespace endian = boost::endian;

// Longest node id or member name in a summary (proto/validation.h).
constexpr size_t kMaxAckNameBytes = 64;
// object id, receivers, acked, missing, name count.
constexpr size_t kSummaryFixedBytes = 8 + 4 + 4 + 4 + 1;

const unsigned char* Bytes(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  endian::store_big_u32(reinterpret_cast<unsigned char*>(b), v);
  out.append(b, 4);
}

void PutU64(std::string& out, uint64_t v) {
  char b[8];
  endian::store_big_u64(reinterpret_cast<unsigned char*>(b), v);
  out.append(b, 8);
}

void PutName(std::string& out, const std::string& name) {
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
}

// Reads a length-prefixed name at `at`; false if it runs past the end or
// is longer than allowed.
bool TakeName(absl::string_view p, size_t& at, std::string& name) {
  if (at >= p.size()) return false;
  const size_t n = static_cast<unsigned char>(p[at++]);
  if (n > kMaxAckNameBytes || p.size() - at < n) return false;
  name.assign(p.data() + at, n);
  at += n;
  return true;
}

}  // namespace

FramePtr MakeAck(uint32_t group_handle, uint32_t source_id, uint64_t object_id) {
  std::string payload;
  PutU64(payload, object_id);
  return Frame::Make(FrameType::kAck, group_handle, source_id, 0, payload);
}

absl::StatusOr<uint64_t> ParseAck(const Frame& frame) {
  if (frame.header().type != FrameType::kAck) return absl::InvalidArgumentError("not an ACK frame");
  if (frame.payload().size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("ACK frame payload of ", frame.payload().size(), " bytes, want 8"));
  }
  const uint64_t id = endian::load_big_u64(Bytes(frame.payload().data()));
  if (id == 0) return absl::InvalidArgumentError("ACK of object 0");
  return id;
}

FramePtr MakeAckSummary(uint32_t group_handle, uint32_t source_id, const AckSummary& summary) {
  std::string payload;
  payload.reserve(kSummaryFixedBytes + summary.names.size() * (3 + 2 * kMaxAckNameBytes));
  PutU64(payload, summary.object_id);
  PutU32(payload, summary.receivers);
  PutU32(payload, summary.acked);
  PutU32(payload, summary.missing);
  payload.push_back(static_cast<char>(summary.names.size()));
  for (const AckMissing& m : summary.names) {
    PutName(payload, m.node);
    PutName(payload, m.member);
    payload.push_back(static_cast<char>(m.kind));
  }
  return Frame::Make(FrameType::kAckSummary, group_handle, source_id, 0, payload);
}

absl::StatusOr<AckSummary> ParseAckSummary(const Frame& frame) {
  if (frame.header().type != FrameType::kAckSummary) {
    return absl::InvalidArgumentError("not an ACK_SUMMARY frame");
  }
  const absl::string_view p = frame.payload();
  if (p.size() < kSummaryFixedBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("ACK_SUMMARY payload of ", p.size(), " bytes is truncated"));
  }
  AckSummary s;
  s.object_id = endian::load_big_u64(Bytes(p.data()));
  s.receivers = endian::load_big_u32(Bytes(p.data() + 8));
  s.acked = endian::load_big_u32(Bytes(p.data() + 12));
  s.missing = endian::load_big_u32(Bytes(p.data() + 16));
  const size_t count = static_cast<unsigned char>(p[20]);
  if (count > kMaxAckNames) {
    return absl::InvalidArgumentError(
        absl::StrCat("ACK_SUMMARY names ", count, " receivers; at most ", kMaxAckNames));
  }
  if (s.acked > s.receivers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ACK_SUMMARY counts ", s.acked, " acknowledgements of ", s.receivers, " receivers"));
  }
  if (s.missing < count) {
    return absl::InvalidArgumentError(
        absl::StrCat("ACK_SUMMARY names ", count, " missing receivers but counts ", s.missing));
  }
  size_t at = kSummaryFixedBytes;
  s.names.resize(count);
  for (AckMissing& m : s.names) {
    if (!TakeName(p, at, m.node) || !TakeName(p, at, m.member) || m.node.empty() ||
        at >= p.size()) {
      return absl::InvalidArgumentError("ACK_SUMMARY has a malformed name");
    }
    const uint8_t kind = static_cast<uint8_t>(p[at++]);
    if (kind > static_cast<uint8_t>(AckMissingKind::kGone)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ACK_SUMMARY names a receiver missing for unknown reason ", kind));
    }
    m.kind = static_cast<AckMissingKind>(kind);
    if (m.kind == AckMissingKind::kSilent && !m.member.empty()) {
      return absl::InvalidArgumentError("ACK_SUMMARY names a member of a node it never heard from");
    }
    if ((m.kind == AckMissingKind::kPending || m.kind == AckMissingKind::kLeft) &&
        m.member.empty()) {
      return absl::InvalidArgumentError("ACK_SUMMARY names a receiver without its member name");
    }
  }
  if (at != p.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ACK_SUMMARY has ", p.size() - at, " bytes after its names"));
  }
  return s;
}

}  // namespace canopy::wire
