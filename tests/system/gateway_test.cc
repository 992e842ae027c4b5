// Gateways in the lab: unmodified multicast programs (tests/system/legacy,
// plain socket options only) on two LANs joined by a router that forwards
// no multicast. Without Canopy nothing crosses; with a gateway node on each
// LAN every datagram arrives on the other LAN once and in order.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/system/gateway_lab.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr char kGroup[] = "239.1.2.3";
constexpr char kPort[] = "5000";

// Starts mcast_recv on (lan, host) and waits until it is a member.
std::unique_ptr<Process> LegacyReceiver(const Lab& lab, int lan, int host, int count, int idle_ms) {
  auto recv = std::make_unique<Process>(lab.Command(
      lan, host,
      {BinaryPath("mcast_recv"), "--count", absl::StrCat(count), "--idle-ms", absl::StrCat(idle_ms),
       "--interface", lab.HostAddress(lan, host), kGroup, kPort}));
  EXPECT_TRUE(recv->WaitForStderr("joined", kWait)) << recv->Stderr();
  return recv;
}

// mcast_send on (lan, host): `count` datagrams with TTL 4.
void LegacySend(const Lab& lab, int lan, int host, int count) {
  Process send(
      lab.Command(lan, host,
                  {BinaryPath("mcast_send"), "--ttl", "4", "--count", absl::StrCat(count), "--rate",
                   "200", "--interface", lab.HostAddress(lan, host), kGroup, kPort}));
  EXPECT_EQ(send.Wait(kWait), 0) << send.Stderr();
}

// A node on (lan, host) that is a gateway for kGroup:kPort.
std::unique_ptr<Process> StartGateway(const Lab& lab, int lan, int host,
                                      const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"--gateway", absl::StrCat(kGroup, ":", kPort)};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartLabNode(lab, lan, host, args);
}

TEST(GatewayTest, LegacyProgramsOnTwoLansTalkOnlyThroughGateways) {
  LabOptions options;
  options.lans = 2;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);

  // Without Canopy: the router carries no multicast, nothing arrives.
  {
    auto recv = LegacyReceiver(*lab, 2, 2, 5, 1500);
    LegacySend(*lab, 1, 2, 5);
    EXPECT_EQ(recv->Wait(kWait), 1) << recv->Stderr();
    EXPECT_TRUE(recv->StdoutLines().empty());
  }

  char dir_template[] = "/tmp/canopy-gateway.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::unique_ptr<Process> ctl = StartLabController(*lab, dir);
  std::vector<std::unique_ptr<Process>> gateways;
  for (int lan = 1; lan <= 2; ++lan) {
    gateways.push_back(StartGateway(*lab, lan, 1));
    ASSERT_TRUE(gateways.back()->WaitForStderr("attached", kWait)) << gateways.back()->Stderr();
  }
  auto logs = [&] {
    std::string out = "\n--- controller\n" + ctl->Stderr();
    for (auto& g : gateways) out += "\n--- gateway\n" + g->Stderr();
    return out;
  };

  constexpr int kCount = 50;
  auto recv = LegacyReceiver(*lab, 2, 2, kCount, 10000);
  // A receiver next to the sender (its host loops the datagrams back) hears
  // each once: the gateway on that LAN never re-emits what it captured.
  auto local = LegacyReceiver(*lab, 1, 2, kCount + 1, 3000);
  LegacySend(*lab, 1, 2, kCount);
  ASSERT_EQ(recv->Wait(kWait), 0) << recv->Stderr() << logs();
  const std::vector<std::string> lines = recv->StdoutLines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], absl::StrCat("seq ", i + 1, " "))) << lines[i];
  }
  // The local receiver stops when idle: exactly the sender's datagrams.
  EXPECT_EQ(local->Wait(kWait), 1);
  EXPECT_EQ(local->StdoutLines().size(), static_cast<size_t>(kCount)) << local->Stderr();
  std::filesystem::remove_all(dir);
}

TEST(GatewayTest, TwoGatewaysOnEachLanCarryEveryDatagramOnce) {
  LabOptions options;
  options.lans = 2;
  options.hosts_per_lan = 3;
  CANOPY_LAB_OR_SKIP(lab, options);
  char dir_template[] = "/tmp/canopy-gateway.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::unique_ptr<Process> ctl = StartLabController(*lab, dir);
  std::vector<std::unique_ptr<Process>> gateways;
  for (int lan = 1; lan <= 2; ++lan) {
    for (int host = 1; host <= 2; ++host) {
      gateways.push_back(StartGateway(*lab, lan, host, {"--discovery-interval-ms", "200"}));
    }
  }
  auto logs = [&] {
    std::string out = "\n--- controller\n" + ctl->Stderr();
    for (auto& g : gateways) out += "\n--- gateway\n" + g->Stderr();
    return out;
  };
  // The higher address of each LAN stands by once the two hear each other.
  ASSERT_TRUE(gateways[1]->WaitForStderr("standing by", kWait)) << logs();
  ASSERT_TRUE(gateways[3]->WaitForStderr("standing by", kWait)) << logs();

  constexpr int kCount = 50;
  // One more than will come: each ends when idle, with what arrived.
  auto remote = LegacyReceiver(*lab, 2, 3, kCount + 1, 3000);
  auto local = LegacyReceiver(*lab, 1, 3, kCount + 1, 3000);
  LegacySend(*lab, 1, 3, kCount);
  EXPECT_EQ(remote->Wait(kWait), 1);
  const std::vector<std::string> lines = remote->StdoutLines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount)) << remote->Stderr() << logs();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], absl::StrCat("seq ", i + 1, " "))) << lines[i];
  }
  EXPECT_EQ(local->Wait(kWait), 1);
  EXPECT_EQ(local->StdoutLines().size(), static_cast<size_t>(kCount)) << local->Stderr();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace canopy::testing
