#include "node/igmp_packet.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "node/native_packet.h"

namespace canopy::node {
namespace {

uint16_t Get16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) | static_cast<uint8_t>(b[at + 1]));
}
uint32_t Get32(absl::string_view b, size_t at) {
  return (uint32_t{Get16(b, at)} << 16) | Get16(b, at + 2);
}
void Append16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
void Append32(std::string& out, uint32_t v) {
  Append16(out, static_cast<uint16_t>(v >> 16));
  Append16(out, static_cast<uint16_t>(v & 0xFFFF));
}

absl::Status Truncated(absl::string_view what, size_t need, size_t have) {
  return absl::OutOfRangeError(absl::StrCat(what, " needs ", need, " bytes, ", have, " there"));
}

// `count` addresses starting at `at`; OutOfRange if they are not all there.
absl::StatusOr<std::vector<uint32_t>> Addresses(absl::string_view b, size_t at, size_t count,
                                                absl::string_view what) {
  if (at > b.size() || count > (b.size() - at) / 4) return Truncated(what, at + 4 * count, b.size());
  std::vector<uint32_t> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(Get32(b, at + 4 * i));
  return out;
}

absl::StatusOr<IgmpMessage> ParseQuery(absl::string_view b) {
  IgmpMessage m;
  m.type = IgmpType::kQuery;
  m.group = Get32(b, 4);
  if (b.size() == 8) {
    // IGMPv1 (max response 0) or IGMPv2; 1/10 s units.
    m.query_version = b[1] == 0 ? 1 : 2;
    m.max_response = absl::Milliseconds(100 * (b[1] == 0 ? 100 : static_cast<uint8_t>(b[1])));
    return m;
  }
  if (b.size() < 12) return Truncated("IGMPv3 query", 12, b.size());
  m.query_version = 3;
  m.max_response = absl::Milliseconds(100 * DecodeIgmpCode(static_cast<uint8_t>(b[1])));
  const uint8_t flags = static_cast<uint8_t>(b[8]);
  m.suppress_router_side = (flags & 0x08) != 0;
  m.robustness = flags & 0x07;
  m.query_interval = absl::Seconds(DecodeIgmpCode(static_cast<uint8_t>(b[9])));
  absl::StatusOr<std::vector<uint32_t>> sources =
      Addresses(b, 12, Get16(b, 10), "IGMPv3 query sources");
  if (!sources.ok()) return sources.status();
  m.sources = *std::move(sources);
  return m;
}

absl::StatusOr<IgmpMessage> ParseV3Report(absl::string_view b) {
  if (b.size() < 8) return Truncated("IGMPv3 report", 8, b.size());
  IgmpMessage m;
  m.type = IgmpType::kV3Report;
  const size_t records = Get16(b, 6);
  // Each record takes at least 8 bytes: no more can be announced than fit.
  if (records > (b.size() - 8) / 8) return Truncated("IGMPv3 report records", 8 + 8 * records, b.size());
  size_t at = 8;
  m.records.reserve(records);
  for (size_t i = 0; i < records; ++i) {
    if (b.size() - at < 8) return Truncated("IGMPv3 group record", at + 8, b.size());
    IgmpGroupRecord r;
    const uint8_t type = static_cast<uint8_t>(b[at]);
    if (type < 1 || type > 6) {
      return absl::InvalidArgumentError(absl::StrCat("IGMPv3 record type ", type));
    }
    r.type = static_cast<IgmpRecordType>(type);
    const size_t aux_words = static_cast<uint8_t>(b[at + 1]);
    const size_t count = Get16(b, at + 2);
    r.group = Get32(b, at + 4);
    absl::StatusOr<std::vector<uint32_t>> sources =
        Addresses(b, at + 8, count, "IGMPv3 record sources");
    if (!sources.ok()) return sources.status();
    r.sources = *std::move(sources);
    at += 8 + 4 * count;
    if (aux_words * 4 > b.size() - at) return Truncated("IGMPv3 auxiliary data", at + aux_words * 4, b.size());
    at += aux_words * 4;
    m.records.push_back(std::move(r));
  }
  return m;
}

}  // namespace

uint32_t DecodeIgmpCode(uint8_t code) {
  if (code < 128) return code;
  const uint32_t mantissa = code & 0x0F;
  const uint32_t exponent = (code >> 4) & 0x07;
  return (mantissa | 0x10) << (exponent + 3);
}

uint8_t EncodeIgmpCode(uint32_t value) {
  if (value < 128) return static_cast<uint8_t>(value);
  value = std::min<uint32_t>(value, DecodeIgmpCode(0xFF));
  for (int exponent = 7; exponent >= 0; --exponent) {
    const uint32_t mantissa = (value >> (exponent + 3));
    if (mantissa >= 0x10) {
      return static_cast<uint8_t>(0x80 | (exponent << 4) | (std::min<uint32_t>(mantissa, 0x1F) & 0x0F));
    }
  }
  return 127;
}

absl::StatusOr<IgmpMessage> ParseIgmp(absl::string_view b) {
  if (b.size() < 8) return Truncated("IGMP message", 8, b.size());
  if (InternetChecksum(b) != 0) return absl::DataLossError("IGMP checksum");
  IgmpMessage m;
  switch (static_cast<uint8_t>(b[0])) {
    case static_cast<uint8_t>(IgmpType::kQuery):
      return ParseQuery(b);
    case static_cast<uint8_t>(IgmpType::kV1Report):
    case static_cast<uint8_t>(IgmpType::kV2Report):
    case static_cast<uint8_t>(IgmpType::kV2Leave):
      m.type = static_cast<IgmpType>(b[0]);
      m.group = Get32(b, 4);
      return m;
    case static_cast<uint8_t>(IgmpType::kV3Report):
      return ParseV3Report(b);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("IGMP type 0x", absl::Hex(static_cast<uint8_t>(b[0]))));
  }
}

std::string EncodeIgmpV3Query(uint32_t group, const std::vector<uint32_t>& sources,
                              absl::Duration max_response, bool suppress_router_side,
                              int robustness, absl::Duration query_interval) {
  std::string out;
  out.push_back(static_cast<char>(IgmpType::kQuery));
  out.push_back(static_cast<char>(
      EncodeIgmpCode(static_cast<uint32_t>(absl::ToInt64Milliseconds(max_response) / 100))));
  Append16(out, 0);  // checksum, below
  Append32(out, group);
  out.push_back(static_cast<char>((suppress_router_side ? 0x08 : 0) |
                                  (robustness > 7 ? 0 : robustness)));
  out.push_back(static_cast<char>(
      EncodeIgmpCode(static_cast<uint32_t>(absl::ToInt64Seconds(query_interval)))));
  const size_t n = std::min(sources.size(), kMaxQuerySources);
  Append16(out, static_cast<uint16_t>(n));
  for (size_t i = 0; i < n; ++i) Append32(out, sources[i]);
  const uint16_t sum = InternetChecksum(out);
  out[2] = static_cast<char>(sum >> 8);
  out[3] = static_cast<char>(sum & 0xFF);
  return out;
}

}  // namespace canopy::node
