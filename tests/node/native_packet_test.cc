#include "node/native_packet.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

UdpSend Send() {
  UdpSend s;
  s.source = 0x0A4D010C;       // 10.77.1.12
  s.destination = 0xE8010101;  // 232.1.1.1
  s.source_port = 40000;
  s.destination_port = 5003;
  s.ttl = 7;
  s.id = 99;
  return s;
}

TEST(NativePacketTest, AnEncodedDatagramParsesBack) {
  absl::StatusOr<std::vector<std::string>> packets = EncodeUdpPackets(Send(), "payload", 1500);
  ASSERT_TRUE(packets.ok()) << packets.status();
  ASSERT_EQ(packets->size(), 1u);
  absl::StatusOr<Ipv4Packet> ip = ParseIpv4Packet((*packets)[0]);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->source, Send().source);
  EXPECT_EQ(ip->destination, Send().destination);
  EXPECT_EQ(ip->ttl, 7);
  EXPECT_FALSE(ip->fragment);
  absl::StatusOr<UdpDatagram> udp = ParseUdp(*ip);
  ASSERT_TRUE(udp.ok()) << udp.status();
  EXPECT_EQ(udp->source_port, 40000);
  EXPECT_EQ(udp->destination_port, 5003);
  EXPECT_EQ(udp->payload, "payload");
}

TEST(NativePacketTest, LargeDatagramsAreFragmentedToTheMtu) {
  const std::string payload(4000, 'x');
  absl::StatusOr<std::vector<std::string>> packets = EncodeUdpPackets(Send(), payload, 1500);
  ASSERT_TRUE(packets.ok());
  ASSERT_EQ(packets->size(), 3u);
  size_t carried = 0;
  for (const std::string& p : *packets) {
    EXPECT_LE(p.size(), 1500u);
    absl::StatusOr<Ipv4Packet> ip = ParseIpv4Packet(p);
    ASSERT_TRUE(ip.ok()) << ip.status();
    EXPECT_TRUE(ip->fragment);
    carried += ip->payload.size();
  }
  EXPECT_EQ(carried, payload.size() + 8);
  EXPECT_FALSE(EncodeUdpPackets(Send(), std::string(65508, 'x'), 1500).ok());
  EXPECT_FALSE(EncodeUdpPackets(Send(), "x", 60).ok());
}

TEST(NativePacketTest, DamagedPacketsAreErrorsNotCrashes) {
  std::string p = (*EncodeUdpPackets(Send(), "payload", 1500))[0];
  for (size_t n = 0; n < p.size(); ++n) {
    absl::StatusOr<Ipv4Packet> ip = ParseIpv4Packet(p.substr(0, n));
    EXPECT_FALSE(ip.ok()) << n;  // truncated: never whole
  }
  std::string bad_header = p;
  bad_header[8] ^= 1;  // TTL changed, header checksum not
  EXPECT_FALSE(ParseIpv4Packet(bad_header).ok());
  std::string bad_payload = p;
  bad_payload.back() ^= 1;
  absl::StatusOr<Ipv4Packet> ip = ParseIpv4Packet(bad_payload);
  ASSERT_TRUE(ip.ok());
  EXPECT_FALSE(ParseUdp(*ip).ok());
  // A partial (offloaded) checksum is accepted when the caller says so.
  EXPECT_TRUE(ParseUdp(*ip, /*verify_checksum=*/false).ok());
}

}  // namespace
}  // namespace canopy::node
