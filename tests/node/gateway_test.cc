// The gateway's contract that needs no LAN: its flag syntax and the refusal
// of an address multicast cannot use. Carrying datagrams between LANs is
// tested on real network namespaces (tests/system/gateway_test.cc and
// gateway_scope_test.cc).

#include "node/gateway.h"

#include <string>

#include "gtest/gtest.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/relay.h"

namespace canopy::node {
namespace {

TEST(ParseGatewaySpecTest, NamesTheOverlayGroupAfterTheNativeOneUnlessGiven) {
  absl::StatusOr<GatewaySpec> plain = ParseGatewaySpec("239.1.2.3:5000");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->native_group, "239.1.2.3:5000");
  EXPECT_EQ(plain->canopy_group, "mcast/239.1.2.3:5000");
  absl::StatusOr<GatewaySpec> named = ParseGatewaySpec("239.1.2.3:5000=video/main");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->canopy_group, "video/main");
}

TEST(ParseGatewaySpecTest, RefusesWhatIsNoMulticastGroupOrNoValidName) {
  for (const char* bad : {"10.0.0.1:5000", "239.1.2.3", "239.1.2.3:0",
                          "239.1.2.3:5000=", "239.1.2.3:5000=bad name", "=g", ""}) {
    absl::StatusOr<GatewaySpec> spec = ParseGatewaySpec(bad);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
}

TEST(GatewayTest, StartSaysWhyALoopbackAddressCannotCarryMulticast) {
  ForwardingState state;
  LocalClients clients([] {});
  RelayOptions relay_options;
  relay_options.node_id = "n1";
  Relay relay(relay_options, state, clients);
  GatewayOptions options;
  options.spec = *ParseGatewaySpec("239.1.2.3:5000");
  options.interface_address = "127.0.0.1";
  Gateway gateway(options, relay, clients, state);
  const absl::Status started = gateway.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(started.message().find("127.0.0.1"), std::string::npos) << started;
  EXPECT_TRUE(clients.Subscribers("mcast/239.1.2.3:5000").empty())
      << "a gateway that did not start subscribes to nothing";
  gateway.Stop();  // and stops cleanly
}

}  // namespace
}  // namespace canopy::node
