#include "node/gateway_envelope.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

TEST(GatewayEnvelopeTest, RoundTripsTtlPortAndPayload) {
  std::string message;
  WrapDatagram({16, 40001, 5001, {}}, "hello", message);
  ASSERT_EQ(message.size(), kEnvelopeBytes + 5);
  std::optional<Envelope> e = UnwrapDatagram(message);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->ttl, 16);
  EXPECT_EQ(e->source_port, 40001);
  EXPECT_EQ(e->destination_port, 5001);
  EXPECT_EQ(e->payload, "hello");
}

TEST(GatewayEnvelopeTest, AnEmptyPayloadTravels) {
  std::string message;
  WrapDatagram({255, 0, 0, {}}, "", message);
  std::optional<Envelope> e = UnwrapDatagram(message);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->ttl, 255);
  EXPECT_TRUE(e->payload.empty());
}

TEST(GatewayEnvelopeTest, MessagesWithoutAnEnvelopeAreNotMistakenForOne) {
  EXPECT_FALSE(UnwrapDatagram("").has_value());
  EXPECT_FALSE(UnwrapDatagram("CNG1").has_value());                      // short
  EXPECT_FALSE(UnwrapDatagram(std::string("CNG1\x05\0\0\1\0", 9)).has_value());  // short
  EXPECT_FALSE(UnwrapDatagram(std::string("CNG2\x05\0\0\1\0\1x", 11)).has_value());  // magic
  EXPECT_FALSE(
      UnwrapDatagram(std::string("CNG1\x05\x01\0\1\0\1x", 11)).has_value());  // reserved
  EXPECT_FALSE(UnwrapDatagram(std::string("CNG1\0\0\0\1\0\1x", 11)).has_value());  // TTL 0
  EXPECT_TRUE(UnwrapDatagram(std::string("CNG1\x05\0\0\1\0\1x", 11)).has_value());
  EXPECT_FALSE(UnwrapDatagram("an ordinary message from a publisher").has_value());
}

}  // namespace
}  // namespace canopy::node
