#ifndef CANOPY_NODE_GATEWAY_ENVELOPE_H_
#define CANOPY_NODE_GATEWAY_ENVELOPE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace canopy::node {

// A native datagram a gateway carries across the overlay travels as one
// message: a 10-byte envelope — "CNG1", the IP TTL the datagram had on its
// LAN, a reserved 0 byte, the sender's UDP port and the destination UDP
// port (big-endian) — and then the UDP payload, unchanged
// (docs/wire-format.md "Gateways"). The receiving gateway re-emits it with
// the TTL less one, to the destination port. A message without an envelope
// (a Canopy publisher's) is re-emitted as it is.
inline constexpr size_t kEnvelopeBytes = 10;

struct Envelope {
  uint8_t ttl = 0;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  absl::string_view payload;  // a view into the message
};

// Writes the envelope and the payload into `out` (replacing its contents).
void WrapDatagram(const Envelope& envelope, absl::string_view payload, std::string& out);

// The envelope of `message`, or nullopt if it has none (shorter than 10
// bytes, another magic, a non-zero reserved byte, or TTL 0).
std::optional<Envelope> UnwrapDatagram(absl::string_view message);

}  // namespace canopy::node

#endif  // CANOPY_NODE_GATEWAY_ENVELOPE_H_
