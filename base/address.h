#ifndef CANOPY_BASE_ADDRESS_H_
#define CANOPY_BASE_ADDRESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

// A parsed "HOST:PORT", the form of every address in canopy/v1/*.proto
// (IPv6 hosts in brackets: "[::1]:7000").
struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string ToString() const;
};

// Parses "HOST:PORT". Port 0 is allowed (bind to any free port). Returns
// InvalidArgument naming the problem for an empty host, a missing or
// non-numeric port, or a port above 65535.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// Parses "HOST:PORT[,HOST:PORT...]" (several replicas of one service, e.g.
// canopy-node --controller A,B,C): at least one address, none empty, each
// as ParseHostPort with a port above 0. Errors name the bad entry.
absl::StatusOr<std::vector<HostPort>> ParseHostPortList(absl::string_view text);

}  // namespace canopy

#endif  // CANOPY_BASE_ADDRESS_H_
