#ifndef CANOPY_CONTROLLER_STATIC_LINKS_H_
#define CANOPY_CONTROLLER_STATIC_LINKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::controller {

// An operator-configured overlay link (a tunnel, like a configured MBone
// tunnel): the only links that exist once any is configured.
struct StaticLink {
  std::string a;
  std::string b;
  int64_t cost_us = 0;  // link cost in microseconds

  bool operator==(const StaticLink&) const = default;
};

// Largest accepted link cost: 1 hour in µs.
inline constexpr int64_t kMaxStaticLinkCostUs = 3'600'000'000;

// Parses a static links file: one link per line, "NODE_A NODE_B COST_US",
// fields separated by spaces or tabs; '#' starts a comment; blank lines are
// ignored. Returns InvalidArgument "line N: reason" for a malformed line, a
// bad node id, a self link, a negative or too large cost, or a link given
// twice.
absl::StatusOr<std::vector<StaticLink>> ParseStaticLinks(absl::string_view text);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_STATIC_LINKS_H_
