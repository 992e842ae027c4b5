// IGMP-driven gateways (canopy-node --gateway-auto, no --gateway listed) in
// the lab, with unmodified programs that nobody in this project wrote:
// Debian's iperf 2 across two LANs whose router forwards no multicast,
// socat listeners that come and go (watched with canopyctl members), and
// source-specific (SSM) receivers that get only the source they asked for.

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "tests/system/gateway_lab.h"
#include "tests/testing/poll.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);

#define REQUIRE_PROGRAMS()                                                          \
  for (const char* program : {"iperf", "socat", "curl"}) {                          \
    if (InstalledProgram(program).empty()) GTEST_SKIP() << program << " missing"; \
  }

// A controller on l1h1 and an IGMP-driven gateway node on host 1 of each
// LAN with `flags`.
class AutoGateways {
 public:
  AutoGateways(const Lab& lab, int lans, const std::vector<std::string>& flags,
               int per_lan = 1)
      : lab_(lab), per_lan_(per_lan) {
    char dir_template[] = "/tmp/canopy-gateway-auto.XXXXXX";
    dir_ = mkdtemp(dir_template);
    controller_ = StartLabController(lab, dir_);
    std::vector<std::string> extra = {"--gateway-auto"};
    extra.insert(extra.end(), flags.begin(), flags.end());
    for (int lan = 1; lan <= lans; ++lan) {
      for (int host = 1; host <= per_lan; ++host) {
        gateways_.push_back(StartLabNode(lab, lan, host, extra));
        EXPECT_TRUE(gateways_.back()->WaitForStderr("attached", kWait)) << Logs();
      }
    }
  }
  ~AutoGateways() { std::filesystem::remove_all(dir_); }

  // The gateway on (lan, host); REQUIRES: host <= per_lan.
  Process& gateway(int lan, int host = 1) {
    return *gateways_[static_cast<size_t>((lan - 1) * per_lan_ + host - 1)];
  }

  std::string Logs() const {
    std::string out = "\n--- controller\n" + controller_->Stderr();
    for (const auto& g : gateways_) out += "\n--- gateway\n" + g->Stderr();
    return out;
  }

  // `canopyctl members GROUP` on the controller's host.
  std::string Members(const std::string& group) const {
    std::string out, err;
    absl::StatusOr<int> code = Lab::Run(
        lab_.Command(1, 1,
                     {BinaryPath("canopyctl"), "--controller", lab_.HostAddress(1, 1) + ":7000",
                      "members", group}),
        absl::Seconds(20), &out, &err);
    return code.ok() ? out + err : std::string(code.status().message());
  }

 private:
  const Lab& lab_;
  int per_lan_ = 1;
  std::string dir_;
  std::unique_ptr<Process> controller_;
  std::vector<std::unique_ptr<Process>> gateways_;
};

// "lost/total" of iperf 2's server report line ("... 3/ 8929 (0.034%)").
bool ParseLoss(const std::string& line, int64_t& lost, int64_t& total) {
  const size_t slash = line.rfind('/');
  const size_t open = line.rfind('(');
  if (slash == std::string::npos || open == std::string::npos || open < slash) return false;
  size_t start = line.find_last_of(' ', slash - 1);
  if (start == std::string::npos) return false;
  return absl::SimpleAtoi(line.substr(start + 1, slash - start - 1), &lost) &&
         absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(slash + 1, open - slash - 1)),
                          &total);
}

TEST(GatewayAutoTest, IperfCrossesTwoLansThroughIgmpDrivenGateways) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  AutoGateways gateways(*lab, 2, {});
  const std::string iperf = InstalledProgram("iperf");

  // The receiver joins; LAN 2's gateway hears its report and joins the
  // overlay group.
  Process server(lab->Command(2, 2, {iperf, "-s", "-u", "-B", "239.1.2.3", "-p", "5001"}));
  ASSERT_TRUE(server.WaitForStdout("Server listening", kWait)) << server.Stderr();
  ASSERT_TRUE(gateways.gateway(2).WaitForStderr("joining mcast/239.1.2.3", kWait))
      << gateways.Logs();

  std::string out, err;
  absl::StatusOr<int> code = Lab::Run(
      lab->Command(1, 2,
                   {iperf, "-c", "239.1.2.3", "-p", "5001", "-u", "-T", "4", "-b", "20M", "-t", "5",
                    "-l", "1400"}),
      kWait, &out, &err);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << out << err;

  // The server's report: at most 0.1% lost.
  std::optional<std::string> report = server.WaitForStdout("%)", kWait);
  server.Signal(SIGTERM);
  server.Wait(absl::Seconds(10));
  ASSERT_TRUE(report.has_value()) << absl::StrJoin(server.StdoutLines(), "\n") << gateways.Logs();
  int64_t lost = -1, total = 0;
  std::string line;
  for (const std::string& l : server.StdoutLines()) {
    if (absl::StrContains(l, "%)")) line = l;
  }
  ASSERT_TRUE(ParseLoss(line, lost, total)) << line;
  EXPECT_GT(total, 8000) << line;  // 20 Mbit/s for 5 s in 1400-byte datagrams: ~8900
  EXPECT_LE(lost * 1000, total) << line << gateways.Logs();
}

TEST(GatewayAutoTest, ListenersComeAndGo) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  AutoGateways gateways(*lab, 2, {"--igmp-last-member-query-ms", "500"});
  const std::string group = "mcast/239.1.2.4";
  ASSERT_TRUE(absl::StrContains(gateways.Members(group), "no members")) << gateways.Members(group);

  // A listener joins: the overlay group is joined at its first report.
  const absl::Time joined = absl::Now();
  auto listener = std::make_unique<Process>(lab->Command(
      2, 2,
      {InstalledProgram("socat"), "-u",
       "UDP4-RECV:5002,ip-add-membership=239.1.2.4:" + lab->HostAddress(2, 2), "STDOUT"}));
  ASSERT_TRUE(PollUntil([&] { return absl::StrContains(gateways.Members(group), "gw21"); }, kWait))
      << gateways.Members(group) << gateways.Logs();
  EXPECT_LT(absl::Now() - joined, absl::Seconds(5));

  // It leaves (its socket closes, the kernel sends the leave): the group is
  // left after the Last Member Query Time (2 x 500 ms), give or take the
  // control plane.
  listener->Signal(SIGTERM);
  listener->Wait(absl::Seconds(10));
  const absl::Time left = absl::Now();
  ASSERT_TRUE(
      PollUntil([&] { return absl::StrContains(gateways.Members(group), "no members"); }, kWait))
      << gateways.Members(group) << gateways.Logs();
  EXPECT_LT(absl::Now() - left, absl::Seconds(4));
  EXPECT_GE(absl::Now() - left, absl::Milliseconds(900));  // not before the queries went unanswered
}

TEST(GatewayAutoTest, SourceSpecificReceiversGetOnlyTheirSource) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.hosts_per_lan = 3;
  CANOPY_LAB_OR_SKIP(lab, options);
  AutoGateways gateways(*lab, 2, {});
  const std::string s1 = lab->HostAddress(1, 2), s2 = lab->HostAddress(1, 3);

  // A plain receiver with IP_ADD_SOURCE_MEMBERSHIP: SSM group 232.1.1.1,
  // source S1 only. Its IGMPv3 INCLUDE {S1} becomes the gateway's filter.
  constexpr int kCount = 30;
  Process receiver(lab->Command(
      2, 2,
      {BinaryPath("mcast_recv"), "--count", absl::StrCat(kCount + 1), "--idle-ms", "3000",
       "--interface", lab->HostAddress(2, 2), "--source", s1, "232.1.1.1", "5003"}));
  ASSERT_TRUE(receiver.WaitForStderr("joined", kWait)) << receiver.Stderr();
  ASSERT_TRUE(gateways.gateway(2).WaitForStderr("joining mcast/232.1.1.1 (INCLUDE 1", kWait))
      << gateways.Logs();

  // S1 and S2 send at once; only S1's datagrams may arrive, each once.
  auto sender = [&](int host) {
    return std::make_unique<Process>(lab->Command(
        1, host,
        {BinaryPath("mcast_send"), "--ttl", "8", "--count", absl::StrCat(kCount), "--rate", "100",
         "--interface", lab->HostAddress(1, host), "232.1.1.1", "5003"}));
  };
  auto from_s1 = sender(2);
  auto from_s2 = sender(3);
  EXPECT_EQ(from_s1->Wait(kWait), 0) << from_s1->Stderr();
  EXPECT_EQ(from_s2->Wait(kWait), 0) << from_s2->Stderr();
  receiver.Wait(kWait);  // ends when idle, with what arrived
  const std::vector<std::string> lines = receiver.StdoutLines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount)) << receiver.Stderr() << gateways.Logs();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(lines[i], absl::StrCat("seq ", i + 1, " from ", s1));
  }
  EXPECT_TRUE(absl::StrContains(gateways.Members("mcast/232.1.1.1"), "INCLUDE"))
      << gateways.Members("mcast/232.1.1.1");
}

TEST(GatewayAutoTest, TwoGatewaysOnEachOfThreeLansDeliverEachDatagramOnce) {
  REQUIRE_PROGRAMS();
  LabOptions options;
  options.lans = 3;
  options.hosts_per_lan = 3;
  CANOPY_LAB_OR_SKIP(lab, options);
  AutoGateways gateways(*lab, 3, {"--discovery-interval-ms", "200"}, /*per_lan=*/2);
  // Host 2's gateway of each LAN stands by once it hears host 1's.
  for (int lan = 1; lan <= 3; ++lan) {
    ASSERT_TRUE(gateways.gateway(lan, 2).WaitForStderr("standing by", kWait)) << gateways.Logs();
  }
  constexpr int kCount = 50;
  std::vector<std::unique_ptr<Process>> receivers;
  for (int lan = 2; lan <= 3; ++lan) {
    receivers.push_back(std::make_unique<Process>(lab->Command(
        lan, 3,
        {BinaryPath("mcast_recv"), "--count", absl::StrCat(kCount + 1), "--idle-ms", "3000",
         "--interface", lab->HostAddress(lan, 3), "239.1.2.5", "5004"})));
    ASSERT_TRUE(receivers.back()->WaitForStderr("joined", kWait));
    ASSERT_TRUE(gateways.gateway(lan, 1).WaitForStderr("joining mcast/239.1.2.5", kWait))
        << gateways.Logs();
  }
  Process sender(lab->Command(
      1, 3,
      {BinaryPath("mcast_send"), "--ttl", "8", "--count", absl::StrCat(kCount), "--rate", "100",
       "--interface", lab->HostAddress(1, 3), "239.1.2.5", "5004"}));
  ASSERT_EQ(sender.Wait(kWait), 0) << sender.Stderr();
  for (auto& r : receivers) {
    r->Wait(kWait);  // ends when idle: one more than was sent never comes
    const std::vector<std::string> lines = r->StdoutLines();
    ASSERT_EQ(lines.size(), static_cast<size_t>(kCount)) << r->Stderr() << gateways.Logs();
    for (int i = 0; i < kCount; ++i) {
      EXPECT_EQ(lines[i], absl::StrCat("seq ", i + 1, " from ", lab->HostAddress(1, 3)));
    }
  }
}

}  // namespace
}  // namespace canopy::testing
