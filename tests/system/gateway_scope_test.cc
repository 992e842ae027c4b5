// Gateways keep multicast scoped as the MBone's tunnels did, tried with an
// unmodified sender (Debian's iperf 2, `iperf -c GROUP -u -T TTL`) on LAN 1
// of a lab whose router forwards no multicast: only datagrams whose TTL
// exceeds the gateway's threshold cross, the other LAN sees them with the
// sender's TTL less one, and link-local, local-scope and --boundary groups
// stay home. Arrivals are counted by nftables on a LAN 2 host, before any
// socket; what the gateways keep, by their /metrics.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/system/gateway_lab.h"
#include "tests/testing/poll.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr int kPort = 5000;
constexpr int kDatagrams = 10;
constexpr int kDatagramBytes = 200;
constexpr char kKept[] = "canopy_node_gateway_kept_total";

// Skips the test unless the unmodified programs it needs are installed.
#define REQUIRE_PROGRAMS()                                                          \
  for (const char* program : {"iperf", "curl", "nft"}) {                            \
    if (InstalledProgram(program).empty()) GTEST_SKIP() << program << " missing"; \
  }

// iperf 2 on (lan, host) sends kDatagrams datagrams (and its end marker)
// to group:kPort with IP TTL `ttl`.
void IperfSend(const Lab& lab, int lan, int host, const std::string& group, int ttl) {
  std::string out, err;
  absl::StatusOr<int> code = Lab::Run(
      lab.Command(lan, host,
                  {InstalledProgram("iperf"), "-c", group, "-p", absl::StrCat(kPort), "-u", "-T",
                   absl::StrCat(ttl), "-b", "200k", "-l", absl::StrCat(kDatagramBytes), "-n",
                   absl::StrCat(kDatagrams * kDatagramBytes)}),
      kWait, &out, &err);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << out << err;
}

// Two LANs, a controller on l1h1 and one gateway node on host 1 of each
// LAN for `groups`, with `flags`.
class GatewayScope {
 public:
  GatewayScope(const Lab& lab, const std::vector<std::string>& groups,
               const std::vector<std::string>& flags)
      : lab_(lab) {
    char dir_template[] = "/tmp/canopy-gateway-scope.XXXXXX";
    dir_ = mkdtemp(dir_template);
    controller_ = StartLabController(lab, dir_);
    std::vector<std::string> extra = flags;
    for (const std::string& g : groups) {
      extra.push_back("--gateway");
      extra.push_back(absl::StrCat(g, ":", kPort));
    }
    for (int lan = 1; lan <= 2; ++lan) {
      gateways_.push_back(StartLabNode(lab, lan, 1, extra));
      EXPECT_TRUE(gateways_.back()->WaitForStderr("attached", kWait)) << Logs();
    }
  }
  ~GatewayScope() { std::filesystem::remove_all(dir_); }

  std::string Logs() const {
    std::string out = "\n--- controller\n" + controller_->Stderr();
    for (const auto& g : gateways_) out += "\n--- gateway\n" + g->Stderr();
    return out;
  }

  // Waits until LAN 1's gateway has kept at least `n` datagrams for `reason`.
  bool AwaitKept(const std::string& reason, double n) const {
    return PollUntil([&] { return LabNodeSample(lab_, 1, 1, kKept, {{"reason", reason}}) >= n; },
                     kWait);
  }

  // Waits until (lan 2, host) counted at least `n` packets to `group`.
  PacketCounts AwaitArrivals(int host, const std::string& group, uint64_t n) const {
    PacketCounts counts;
    PollUntil(
        [&] {
          absl::StatusOr<PacketCounts> c = ReadPackets(lab_, 2, host, group);
          if (c.ok()) counts = *c;
          return counts.all >= n;
        },
        kWait);
    return counts;
  }

 private:
  const Lab& lab_;
  std::string dir_;
  std::unique_ptr<Process> controller_;
  std::vector<std::unique_ptr<Process>> gateways_;
};

PacketCounts Arrived(const Lab& lab, int host, const std::string& group) {
  absl::StatusOr<PacketCounts> counts = ReadPackets(lab, 2, host, group);
  EXPECT_TRUE(counts.ok()) << counts.status();
  return counts.value_or(PacketCounts{});
}

TEST(GatewayScopeTest, TtlOneStaysHomeAndTtlSixteenCrossesAsFifteen) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  const std::string group = "239.1.2.3";
  GatewayScope scope(*lab, {group}, {});
  ASSERT_TRUE(WatchPackets(*lab, 2, 2, group, kPort, 15).ok());

  IperfSend(*lab, 1, 2, group, 1);
  ASSERT_TRUE(scope.AwaitKept("ttl", kDatagrams)) << scope.Logs();
  EXPECT_EQ(LabNodeSample(*lab, 1, 1, "canopy_node_gateway_captured_total"), 0);

  // TTL 16 crosses, and LAN 2 sees each datagram with TTL 15; nothing of
  // the TTL-1 stream came before it.
  IperfSend(*lab, 1, 2, group, 16);
  const PacketCounts counts = scope.AwaitArrivals(2, group, kDatagrams);
  EXPECT_GE(counts.all, static_cast<uint64_t>(kDatagrams)) << scope.Logs();
  EXPECT_LE(counts.all, static_cast<uint64_t>(kDatagrams) + 10);  // iperf's end markers
  EXPECT_EQ(counts.with_ttl, counts.all) << "re-emitted with another TTL than 16 - 1";
  EXPECT_GE(LabNodeSample(*lab, 1, 1, "canopy_node_gateway_captured_total"), kDatagrams);
}

TEST(GatewayScopeTest, ThresholdSixteenKeepsSixteenAndLetsSeventeenThrough) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  const std::string group = "239.1.2.3";
  GatewayScope scope(*lab, {group}, {"--gateway-threshold", "16"});
  ASSERT_TRUE(WatchPackets(*lab, 2, 2, group, kPort, 16).ok());

  IperfSend(*lab, 1, 2, group, 16);
  ASSERT_TRUE(scope.AwaitKept("ttl", kDatagrams)) << scope.Logs();

  IperfSend(*lab, 1, 2, group, 17);
  const PacketCounts counts = scope.AwaitArrivals(2, group, kDatagrams);
  EXPECT_GE(counts.all, static_cast<uint64_t>(kDatagrams)) << scope.Logs();
  EXPECT_LE(counts.all, static_cast<uint64_t>(kDatagrams) + 10);
  EXPECT_EQ(counts.with_ttl, counts.all) << "re-emitted with another TTL than 17 - 1";
}

TEST(GatewayScopeTest, LocalScopeAndBoundariesHold) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 4;
  CANOPY_LAB_OR_SKIP(lab, options);
  const std::string local_scope = "239.255.1.2", bounded = "239.193.1.1", open = "239.1.2.3";
  GatewayScope scope(*lab, {local_scope, bounded, open}, {"--boundary", "239.192.0.0/14"});
  ASSERT_TRUE(WatchPackets(*lab, 2, 2, local_scope, kPort, 15).ok());
  ASSERT_TRUE(WatchPackets(*lab, 2, 3, bounded, kPort, 15).ok());
  ASSERT_TRUE(WatchPackets(*lab, 2, 4, open, kPort, 15).ok());

  IperfSend(*lab, 1, 2, local_scope, 16);
  IperfSend(*lab, 1, 3, bounded, 16);
  ASSERT_TRUE(scope.AwaitKept("local_scope", kDatagrams)) << scope.Logs();
  ASSERT_TRUE(scope.AwaitKept("boundary", kDatagrams)) << scope.Logs();
  // The same sender and TTL to a group nothing scopes: it crosses, so the
  // path works and the two above were held by scope alone.
  IperfSend(*lab, 1, 4, open, 16);
  const PacketCounts crossed = scope.AwaitArrivals(4, open, kDatagrams);
  EXPECT_GE(crossed.all, static_cast<uint64_t>(kDatagrams)) << scope.Logs();
  EXPECT_EQ(Arrived(*lab, 2, local_scope).all, 0u);
  EXPECT_EQ(Arrived(*lab, 3, bounded).all, 0u);
}

}  // namespace
}  // namespace canopy::testing
