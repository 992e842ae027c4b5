#include "controller/multicast_mapping.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy::controller {

std::string MulticastMapping::ToString() const {
  return absl::StrCat(base >> 24, ".", (base >> 16) & 0xFF, ".", (base >> 8) & 0xFF, ".",
                      base & 0xFF, "/", prefix, " ", port);
}

absl::StatusOr<MulticastMapping> MakeMulticastMapping(absl::string_view range, uint16_t port) {
  const size_t slash = range.find('/');
  in_addr address{};
  int prefix = -1;
  if (slash != absl::string_view::npos &&
      inet_pton(AF_INET, std::string(range.substr(0, slash)).c_str(), &address) == 1) {
    if (!absl::SimpleAtoi(range.substr(slash + 1), &prefix)) prefix = -1;
  }
  if (prefix < 4 || prefix > 30 || (ntohl(address.s_addr) >> 28) != 0xE) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", range, "' is not an IPv4 multicast CIDR with a prefix of 4..30"));
  }
  if (port == 0) return absl::InvalidArgumentError("multicast port 0");
  return MulticastMapping{ntohl(address.s_addr), prefix, port};
}

absl::StatusOr<MulticastMapping> ParseMulticastMapping(absl::string_view text) {
  const size_t space = text.find(' ');
  uint32_t port = 0;
  if (space == absl::string_view::npos || !absl::SimpleAtoi(text.substr(space + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("stored multicast mapping '", text, "' is not 'A.B.C.D/N PORT'"));
  }
  return MakeMulticastMapping(text.substr(0, space), static_cast<uint16_t>(port));
}

}  // namespace canopy::controller
