#ifndef CANOPY_NODE_IGMP_PACKET_H_
#define CANOPY_NODE_IGMP_PACKET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace canopy::node {

// IGMP messages (RFC 1112, RFC 2236, RFC 3376) as a gateway hears them on
// its LAN and sends them as the LAN's querier. Addresses are host byte
// order. Parsing trusts nothing: every count is checked against the bytes
// there are, so a message never makes the parser read or allocate beyond
// its own size.

enum class IgmpType : uint8_t {
  kQuery = 0x11,
  kV1Report = 0x12,
  kV2Report = 0x16,
  kV2Leave = 0x17,
  kV3Report = 0x22,
};

// Group record types of an IGMPv3 report (RFC 3376 §4.2.12).
enum class IgmpRecordType : uint8_t {
  kIsInclude = 1,
  kIsExclude = 2,
  kToInclude = 3,
  kToExclude = 4,
  kAllowNew = 5,
  kBlockOld = 6,
};

struct IgmpGroupRecord {
  IgmpRecordType type = IgmpRecordType::kIsInclude;
  uint32_t group = 0;
  std::vector<uint32_t> sources;
};

struct IgmpMessage {
  IgmpType type = IgmpType::kQuery;
  // Queries: 0 for a general query, else the group; v1/v2 reports and
  // leaves: the group.
  uint32_t group = 0;
  // Queries only.
  int query_version = 3;  // 1 (max response 0, 8 bytes), 2 (8 bytes), 3 (>= 12 bytes)
  absl::Duration max_response = absl::ZeroDuration();
  bool suppress_router_side = false;  // v3 S flag
  int robustness = 0;                 // v3 QRV (0 = not given)
  absl::Duration query_interval = absl::ZeroDuration();  // v3 QQIC (0 = not given)
  std::vector<uint32_t> sources;                           // v3 group-and-source query
  // IGMPv3 reports.
  std::vector<IgmpGroupRecord> records;
};

// Parses an IGMP message (the payload of an IPv4 packet of protocol 2):
// type, checksum, lengths, record and source counts. OutOfRange for a
// truncated message, DataLoss for a bad checksum, InvalidArgument for an
// unknown type or record type or a malformed field.
absl::StatusOr<IgmpMessage> ParseIgmp(absl::string_view bytes);

// The 8-bit "floating point" codes of RFC 3376 §4.1.1 and §4.1.7: the
// value of a code, and the code of a value (rounded down to what it can
// express, at most 31744).
uint32_t DecodeIgmpCode(uint8_t code);
uint8_t EncodeIgmpCode(uint32_t value);

// An IGMPv3 query (RFC 3376 §4.1), checksum included: general when `group`
// is 0, group-specific with no sources, group-and-source-specific with
// them. Max response and query interval are rounded to what the codes hold.
// REQUIRES: sources.size() <= 366 (what fits in 1500 bytes).
std::string EncodeIgmpV3Query(uint32_t group, const std::vector<uint32_t>& sources,
                              absl::Duration max_response, bool suppress_router_side,
                              int robustness, absl::Duration query_interval);

// The most sources one query carries on an Ethernet LAN.
inline constexpr size_t kMaxQuerySources = 366;

}  // namespace canopy::node

#endif  // CANOPY_NODE_IGMP_PACKET_H_
