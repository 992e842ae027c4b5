#ifndef CANOPY_NODE_NATIVE_PACKET_H_
#define CANOPY_NODE_NATIVE_PACKET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::node {

// IPv4 packets as a LAN carries them, for gateways that see a LAN's raw
// traffic (a packet socket) and re-emit datagrams with their sender's
// address. Addresses and ports are host byte order. Nothing here trusts its
// input: every length is checked against the bytes there are.

inline constexpr uint8_t kProtocolIgmp = 2;
inline constexpr uint8_t kProtocolUdp = 17;

// One IPv4 packet's header fields and payload (a view into the input).
struct Ipv4Packet {
  uint32_t source = 0;
  uint32_t destination = 0;
  uint8_t ttl = 0;
  uint8_t protocol = 0;
  bool router_alert = false;  // IP option 148 (RFC 2113)
  bool fragment = false;      // more fragments follow, or not the first
  absl::string_view payload;
};

// Parses an IPv4 header (version 4, header length 20..60 bytes, total
// length within `bytes`, header checksum) and its options. Bytes past the
// total length (link padding) are ignored. OutOfRange for a truncated
// packet, DataLoss for a bad checksum, InvalidArgument otherwise.
absl::StatusOr<Ipv4Packet> ParseIpv4Packet(absl::string_view bytes);

struct UdpDatagram {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  absl::string_view payload;
};

// Parses the UDP header of an IPv4 packet's payload and checks its length
// and (when not 0, and `verify_checksum`) its checksum. A packet seen
// before the kernel completed an offloaded checksum (PACKET_AUXDATA says
// TP_STATUS_CSUMNOTREADY) carries only a partial one: pass false for it.
// Errors as ParseIpv4Packet.
absl::StatusOr<UdpDatagram> ParseUdp(const Ipv4Packet& packet, bool verify_checksum = true);

// The Internet checksum (RFC 1071) of `bytes` with `sum` as a running
// start (for pseudo-headers).
uint16_t InternetChecksum(absl::string_view bytes, uint32_t sum = 0);

// What a gateway sends on its LAN: one UDP datagram.
struct UdpSend {
  uint32_t source = 0;
  uint16_t source_port = 0;
  uint32_t destination = 0;
  uint16_t destination_port = 0;
  uint8_t ttl = 1;
  uint16_t id = 0;  // IPv4 identification (matters when fragmented)
};

// Encodes the datagram as IPv4 packets of at most `mtu` bytes each (one
// packet, or fragments when it does not fit), headers and checksums
// complete, ready for a raw socket with IP_HDRINCL.
// InvalidArgument if the payload exceeds 65507 bytes or `mtu` is below 68.
absl::StatusOr<std::vector<std::string>> EncodeUdpPackets(const UdpSend& send,
                                                          absl::string_view payload, size_t mtu);

}  // namespace canopy::node

#endif  // CANOPY_NODE_NATIVE_PACKET_H_
