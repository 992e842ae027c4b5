#include "base/address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address '", text, "' is not HOST:PORT"));
  }
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "': put an IPv6 host in brackets, e.g. [::1]:7000"));
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("address '", text, "' has no host"));
  }
  uint32_t port = 0;
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", text, "' has a bad port '", port_text, "'"));
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

absl::StatusOr<std::vector<HostPort>> ParseHostPortList(absl::string_view text) {
  std::vector<HostPort> out;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("address list '", text, "' has an empty entry"));
    }
    absl::StatusOr<HostPort> address = ParseHostPort(entry);
    if (!address.ok()) return address.status();
    if (address->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat("address '", entry, "' needs a port above 0"));
    }
    out.push_back(*std::move(address));
  }
  return out;
}

}  // namespace canopy
