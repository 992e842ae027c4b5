#ifndef CANOPY_CONTROLLER_MULTICAST_MAPPING_H_
#define CANOPY_CONTROLLER_MULTICAST_MAPPING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::controller {

// Where groups go on LANs with native multicast: a group's address is
// base + (hash(group) mod 2^(32 - prefix)), UDP port `port`
// (canopy-controller --multicast-range, --multicast-port). Durable: every
// replica maps a group to the same address.
struct MulticastMapping {
  uint32_t base = 0xEF000000;  // 239.0.0.0, host byte order
  int prefix = 8;
  uint16_t port = 7800;

  // "A.B.C.D/N PORT", the form the stores keep.
  std::string ToString() const;
  bool operator==(const MulticastMapping&) const = default;
};

// Parses "A.B.C.D/N" (an IPv4 multicast CIDR with a prefix of 4..30) and a
// port above 0 into a mapping. InvalidArgument naming the range otherwise.
absl::StatusOr<MulticastMapping> MakeMulticastMapping(absl::string_view range, uint16_t port);

// Parses MulticastMapping::ToString()'s form.
absl::StatusOr<MulticastMapping> ParseMulticastMapping(absl::string_view text);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_MULTICAST_MAPPING_H_
