#include "node/native_packet.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace canopy::node {
namespace {

constexpr size_t kIpHeader = 20;
constexpr size_t kUdpHeader = 8;
constexpr size_t kMaxUdpPayload = 65507;

uint16_t Get16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(b[at]) << 8) | static_cast<uint8_t>(b[at + 1]));
}
uint32_t Get32(absl::string_view b, size_t at) {
  return (uint32_t{Get16(b, at)} << 16) | Get16(b, at + 2);
}
void Put16(std::string& out, size_t at, uint16_t v) {
  out[at] = static_cast<char>(v >> 8);
  out[at + 1] = static_cast<char>(v & 0xFF);
}
void Put32(std::string& out, size_t at, uint32_t v) {
  Put16(out, at, static_cast<uint16_t>(v >> 16));
  Put16(out, at + 2, static_cast<uint16_t>(v & 0xFFFF));
}

uint32_t SumWords(absl::string_view bytes, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += Get16(bytes, i);
  if (i < bytes.size()) sum += static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 8;
  return sum;
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xFFFF);
}

// The UDP pseudo-header sum (RFC 768).
uint32_t PseudoHeader(uint32_t source, uint32_t destination, uint16_t udp_length) {
  return (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) +
         kProtocolUdp + udp_length;
}

}  // namespace

uint16_t InternetChecksum(absl::string_view bytes, uint32_t sum) {
  return Fold(SumWords(bytes, sum));
}

absl::StatusOr<Ipv4Packet> ParseIpv4Packet(absl::string_view bytes) {
  if (bytes.size() < kIpHeader) {
    return absl::OutOfRangeError(absl::StrCat("IPv4 packet of ", bytes.size(), " bytes"));
  }
  const uint8_t version_ihl = static_cast<uint8_t>(bytes[0]);
  if ((version_ihl >> 4) != 4) return absl::InvalidArgumentError("not IPv4");
  const size_t header = size_t{version_ihl & 0x0Fu} * 4;
  if (header < kIpHeader) return absl::InvalidArgumentError("IPv4 header length below 20");
  const size_t total = Get16(bytes, 2);
  if (total < header) return absl::InvalidArgumentError("IPv4 total length below its header");
  if (bytes.size() < header || bytes.size() < total) {
    return absl::OutOfRangeError(
        absl::StrCat("IPv4 packet says ", total, " bytes, ", bytes.size(), " there"));
  }
  if (InternetChecksum(bytes.substr(0, header)) != 0) {
    return absl::DataLossError("IPv4 header checksum");
  }
  Ipv4Packet p;
  const uint16_t fragment = Get16(bytes, 6);
  p.fragment = (fragment & 0x2000) != 0 || (fragment & 0x1FFF) != 0;
  p.ttl = static_cast<uint8_t>(bytes[8]);
  p.protocol = static_cast<uint8_t>(bytes[9]);
  p.source = Get32(bytes, 12);
  p.destination = Get32(bytes, 16);
  // Options: type, then (except for END and NOP) length >= 2 covering it.
  absl::string_view options = bytes.substr(kIpHeader, header - kIpHeader);
  while (!options.empty()) {
    const uint8_t type = static_cast<uint8_t>(options[0]);
    if (type == 0) break;  // end of options
    if (type == 1) {       // no-op
      options.remove_prefix(1);
      continue;
    }
    if (options.size() < 2) return absl::InvalidArgumentError("truncated IPv4 option");
    const uint8_t length = static_cast<uint8_t>(options[1]);
    if (length < 2 || length > options.size()) {
      return absl::InvalidArgumentError("IPv4 option length");
    }
    if (type == 148 && length == 4) p.router_alert = true;
    options.remove_prefix(length);
  }
  p.payload = bytes.substr(header, total - header);
  return p;
}

absl::StatusOr<UdpDatagram> ParseUdp(const Ipv4Packet& packet, bool verify_checksum) {
  const absl::string_view b = packet.payload;
  if (packet.protocol != kProtocolUdp) return absl::InvalidArgumentError("not UDP");
  if (packet.fragment) return absl::InvalidArgumentError("a fragment");
  if (b.size() < kUdpHeader) {
    return absl::OutOfRangeError(absl::StrCat("UDP datagram of ", b.size(), " bytes"));
  }
  const size_t length = Get16(b, 4);
  if (length < kUdpHeader) return absl::InvalidArgumentError("UDP length below 8");
  if (length > b.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("UDP datagram says ", length, " bytes, ", b.size(), " there"));
  }
  if (verify_checksum && Get16(b, 6) != 0 &&
      InternetChecksum(b.substr(0, length),
                       PseudoHeader(packet.source, packet.destination,
                                    static_cast<uint16_t>(length))) != 0) {
    return absl::DataLossError("UDP checksum");
  }
  return UdpDatagram{Get16(b, 0), Get16(b, 2), b.substr(kUdpHeader, length - kUdpHeader)};
}

absl::StatusOr<std::vector<std::string>> EncodeUdpPackets(const UdpSend& send,
                                                          absl::string_view payload, size_t mtu) {
  if (payload.size() > kMaxUdpPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("a UDP payload of ", payload.size(), " bytes (at most 65507)"));
  }
  if (mtu < 68) return absl::InvalidArgumentError(absl::StrCat("an MTU of ", mtu));
  const uint16_t udp_length = static_cast<uint16_t>(kUdpHeader + payload.size());
  std::string udp(kUdpHeader, '\0');
  Put16(udp, 0, send.source_port);
  Put16(udp, 2, send.destination_port);
  Put16(udp, 4, udp_length);
  uint16_t sum = Fold(SumWords(payload, SumWords(udp, PseudoHeader(send.source, send.destination,
                                                                    udp_length))));
  Put16(udp, 6, sum == 0 ? 0xFFFF : sum);
  udp.append(payload.data(), payload.size());
  // Each fragment but the last carries a multiple of 8 bytes.
  const size_t per_fragment = ((mtu - kIpHeader) / 8) * 8;
  std::vector<std::string> packets;
  for (size_t offset = 0; offset < udp.size(); offset += per_fragment) {
    const size_t n = std::min(per_fragment, udp.size() - offset);
    const bool more = offset + n < udp.size();
    std::string p(kIpHeader, '\0');
    p[0] = 0x45;
    Put16(p, 2, static_cast<uint16_t>(kIpHeader + n));
    Put16(p, 4, send.id);
    Put16(p, 6, static_cast<uint16_t>((more ? 0x2000 : 0) | (offset / 8)));
    p[8] = static_cast<char>(send.ttl);
    p[9] = static_cast<char>(kProtocolUdp);
    Put32(p, 12, send.source);
    Put32(p, 16, send.destination);
    Put16(p, 10, InternetChecksum(p));
    p.append(udp, offset, n);
    packets.push_back(std::move(p));
  }
  return packets;
}

}  // namespace canopy::node
