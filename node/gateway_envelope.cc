#include "node/gateway_envelope.h"

namespace canopy::node {
namespace {

constexpr absl::string_view kMagic = "CNG1";

void Append16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

uint16_t Get16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) | static_cast<uint8_t>(b[at + 1]));
}

}  // namespace

void WrapDatagram(const Envelope& envelope, absl::string_view payload, std::string& out) {
  out.assign(kMagic.data(), kMagic.size());
  out.push_back(static_cast<char>(envelope.ttl));
  out.push_back('\0');
  Append16(out, envelope.source_port);
  Append16(out, envelope.destination_port);
  out.append(payload.data(), payload.size());
}

std::optional<Envelope> UnwrapDatagram(absl::string_view message) {
  if (message.size() < kEnvelopeBytes || message.substr(0, 4) != kMagic || message[5] != '\0' ||
      message[4] == '\0') {
    return std::nullopt;
  }
  Envelope e;
  e.ttl = static_cast<uint8_t>(message[4]);
  e.source_port = Get16(message, 6);
  e.destination_port = Get16(message, 8);
  e.payload = message.substr(kEnvelopeBytes);
  return e;
}

}  // namespace canopy::node
