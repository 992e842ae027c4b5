#include "node/native_scope.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy::node {
namespace {

absl::Status Bad(absl::string_view text, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not ", what));
}

// Mask of the first `bits` bits (0..32).
uint32_t PrefixMask(int bits) { return bits == 0 ? 0 : ~uint32_t{0} << (32 - bits); }

// Removes `cut` from each range of `ranges`.
std::vector<Ipv4Range> Subtract(const std::vector<Ipv4Range>& ranges, const Ipv4Range& cut) {
  std::vector<Ipv4Range> out;
  for (const Ipv4Range& r : ranges) {
    if (cut.last < r.first || cut.first > r.last) {
      out.push_back(r);
      continue;
    }
    if (cut.first > r.first) out.push_back({r.first, cut.first - 1});
    if (cut.last < r.last) out.push_back({cut.last + 1, r.last});
  }
  return out;
}

}  // namespace

absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return Bad(text, "an IPv4 address A.B.C.D");
  uint32_t address = 0;
  for (absl::string_view p : parts) {
    uint32_t octet = 0;
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0') ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(p, &octet) || octet > 255) {
      return Bad(text, "an IPv4 address A.B.C.D");
    }
    address = (address << 8) | octet;
  }
  return address;
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xFF, ".", (a >> 8) & 0xFF, ".", a & 0xFF);
}

std::string Ipv4Range::ToString() const {
  for (int bits = 0; bits <= 32; ++bits) {
    const uint32_t mask = PrefixMask(bits);
    if ((first & ~mask) == 0 && last == (first | ~mask)) {
      return absl::StrCat(FormatIpv4(first), "/", bits);
    }
  }
  return absl::StrCat(FormatIpv4(first), "-", FormatIpv4(last));
}

absl::StatusOr<Ipv4Range> ParseCidr(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return Bad(text, "a prefix A.B.C.D/N");
  absl::StatusOr<uint32_t> base = ParseIpv4(text.substr(0, slash));
  const absl::string_view length = text.substr(slash + 1);
  int bits = 0;
  if (!base.ok() || length.empty() || length.size() > 2 || (length.size() > 1 && length[0] == '0') ||
      !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(length, &bits) || bits > 32) {
    return Bad(text, "a prefix A.B.C.D/N");
  }
  const uint32_t mask = PrefixMask(bits);
  if ((*base & ~mask) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has host bits set (did you mean ", FormatIpv4(*base & mask), "/",
                     bits, "?)"));
  }
  return Ipv4Range{*base, *base | ~mask};
}

absl::StatusOr<Ipv4Range> ParseRange(absl::string_view text) {
  if (text.find('/') != absl::string_view::npos) return ParseCidr(text);
  const size_t dash = text.find('-');
  if (dash == absl::string_view::npos) return Bad(text, "a range A.B.C.D/N or A.B.C.D-E.F.G.H");
  absl::StatusOr<uint32_t> first = ParseIpv4(text.substr(0, dash));
  absl::StatusOr<uint32_t> last = ParseIpv4(text.substr(dash + 1));
  if (!first.ok() || !last.ok() || *first > *last) {
    return Bad(text, "a range A.B.C.D/N or A.B.C.D-E.F.G.H (first <= last)");
  }
  return Ipv4Range{*first, *last};
}

absl::string_view ScopeReasonName(ScopeReason reason) {
  switch (reason) {
    case ScopeReason::kLinkLocal:
      return "link_local";
    case ScopeReason::kLocalScope:
      return "local_scope";
    case ScopeReason::kBoundary:
      return "boundary";
    case ScopeReason::kTtl:
      return "ttl";
    case ScopeReason::kNone:
      break;
  }
  return "";
}

NativeScope::NativeScope(std::vector<Ipv4Range> boundaries) : boundaries_(std::move(boundaries)) {}

absl::Status NativeScope::ValidateBoundary(const Ipv4Range& range) {
  if (!IsMulticast(range.first) || !IsMulticast(range.last)) {
    return absl::InvalidArgumentError(
        absl::StrCat(range.ToString(), " is not a range of multicast addresses (224.0.0.0/4)"));
  }
  return absl::OkStatus();
}

ScopeReason NativeScope::Check(uint32_t group) const {
  if (kLinkLocalMulticast.Contains(group)) return ScopeReason::kLinkLocal;
  if (kLocalScope.Contains(group)) return ScopeReason::kLocalScope;
  for (const Ipv4Range& b : boundaries_) {
    if (b.Contains(group)) return ScopeReason::kBoundary;
  }
  return ScopeReason::kNone;
}

std::vector<std::string> NativeScope::Describe() const {
  std::vector<std::string> out = {kLinkLocalMulticast.ToString(), kLocalScope.ToString()};
  for (const Ipv4Range& b : boundaries_) out.push_back(b.ToString());
  return out;
}

std::vector<Ipv4Range> NativeScope::Serve(const Ipv4Range& range) const {
  std::vector<Ipv4Range> out = Subtract({range}, kLinkLocalMulticast);
  out = Subtract(out, kLocalScope);
  for (const Ipv4Range& b : boundaries_) out = Subtract(out, b);
  std::sort(out.begin(), out.end(),
            [](const Ipv4Range& a, const Ipv4Range& b) { return a.first < b.first; });
  return out;
}

}  // namespace canopy::node
