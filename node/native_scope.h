#ifndef CANOPY_NODE_NATIVE_SCOPE_H_
#define CANOPY_NODE_NATIVE_SCOPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::node {

// IPv4 addresses here are host byte order.

// Dotted quad "A.B.C.D", strictly (no leading zeros, no spaces).
// InvalidArgument naming the text otherwise.
absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text);
std::string FormatIpv4(uint32_t address);
inline bool IsMulticast(uint32_t address) { return (address >> 28) == 0xE; }

// An inclusive range of IPv4 addresses.
struct Ipv4Range {
  uint32_t first = 0;
  uint32_t last = 0;
  bool Contains(uint32_t a) const { return a >= first && a <= last; }
  // "A.B.C.D/N" when the range is a prefix, else "A.B.C.D-E.F.G.H".
  std::string ToString() const;
  bool operator==(const Ipv4Range&) const = default;
};

// "A.B.C.D/N" with no host bits set. InvalidArgument otherwise.
absl::StatusOr<Ipv4Range> ParseCidr(absl::string_view text);
// A prefix ("A.B.C.D/N") or "A.B.C.D-E.F.G.H" with first <= last.
absl::StatusOr<Ipv4Range> ParseRange(absl::string_view text);

// RFC 2365's link-local block (never forwarded) and local scope (stays on
// its LAN unless a gateway is told otherwise).
inline constexpr Ipv4Range kLinkLocalMulticast{0xE0000000, 0xE00000FF};  // 224.0.0.0/24
inline constexpr Ipv4Range kLocalScope{0xEFFF0000, 0xEFFFFFFF};          // 239.255.0.0/16
// What canopy-node --gateway-auto serves without a RANGE (less the scopes).
inline constexpr Ipv4Range kDefaultAutoRange{0xE0000100, 0xEFFFFFFF};  // 224.0.1.0-239.255.255.255

// Why a gateway keeps a datagram on its LAN. kNone: it may cross. kTtl:
// its TTL does not exceed the gateway's threshold (NativeScope::Check
// never says kTtl; it looks at addresses only).
enum class ScopeReason { kNone, kLinkLocal, kLocalScope, kBoundary, kTtl };
inline constexpr int kScopeReasons = 5;
// "link_local", "local_scope", "boundary", "ttl" ("" for kNone): the
// /metrics label.
absl::string_view ScopeReasonName(ScopeReason reason);

// Where a gateway's native multicast stops (RFC 2365 administrative
// scope): 224.0.0.0/24 never crosses; 239.255.0.0/16 and the --boundary
// ranges stay on the LAN.
//
// Thread-compatible (immutable after construction).
class NativeScope {
 public:
  // At most this many --boundary ranges (they travel in discovery probes).
  static constexpr size_t kMaxBoundaries = 8;

  // REQUIRES: each boundary lies within 224.0.0.0/4 (ValidateBoundary).
  explicit NativeScope(std::vector<Ipv4Range> boundaries = {});

  // OK for a range that lies within 224.0.0.0/4; InvalidArgument otherwise.
  static absl::Status ValidateBoundary(const Ipv4Range& range);

  // Why a datagram to `group` stays here, or kNone.
  ScopeReason Check(uint32_t group) const;

  // Every range that stops here, link-local and local scope first, as CIDR
  // or A-B text (what the node reports to the controller).
  std::vector<std::string> Describe() const;

  // `range` less every scoped range (the ranges an IGMP-driven gateway
  // serves), in address order.
  std::vector<Ipv4Range> Serve(const Ipv4Range& range) const;

 private:
  std::vector<Ipv4Range> boundaries_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_NATIVE_SCOPE_H_
