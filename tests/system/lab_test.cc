// The network-namespace lab itself (scripts/lab, tests/system/lab.h): unicast
// crosses the router, multicast does not (the MBone problem), a LAN can drop
// multicast and get it back, uplink bytes are counted, and nothing is left
// behind. Runs the unmodified legacy programs (tests/system/legacy/). Needs
// root; skipped (not passed) without it.

#include "tests/system/lab.h"

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(20);
// How long a receiver that must get nothing is watched after the sender ended.
constexpr absl::Duration kQuiet = absl::Seconds(2);
constexpr char kGroup[] = "239.77.0.1";
constexpr char kPort[] = "6001";

// One received datagram: "seq N from ADDR".
struct Datagram {
  unsigned long seq = 0;
  std::string from;
  bool operator==(const Datagram&) const = default;
};

std::vector<Datagram> Received(const Process& receiver) {
  std::vector<Datagram> out;
  for (const std::string& line : receiver.StdoutLines()) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    Datagram d;
    if (f.size() == 4 && f[0] == "seq" && f[2] == "from" && absl::SimpleAtoi(f[1], &d.seq)) {
      d.from = f[3];
    } else {
      d.from = "malformed: " + line;
    }
    out.push_back(d);
  }
  return out;
}

std::vector<Datagram> Numbered(unsigned long from_seq, unsigned long to_seq,
                               const std::string& from) {
  std::vector<Datagram> out;
  for (unsigned long s = from_seq; s <= to_seq; ++s) out.push_back({s, from});
  return out;
}

void PrintTo(const Datagram& d, std::ostream* os) { *os << "seq " << d.seq << " from " << d.from; }

// Starts mcast_recv on (lan, host) and waits until it joined. (Tests wait for
// a receiver's lines before its exit: Process::Wait can return before the
// last lines were read from the pipe.)
std::unique_ptr<Process> StartReceiver(const Lab& lab, int lan, int host, const std::string& group,
                                       std::vector<std::string> extra) {
  std::vector<std::string> argv = {BinaryPath("mcast_recv"), "--idle-ms", "60000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(group);
  argv.push_back(kPort);
  auto receiver = std::make_unique<Process>(lab.Command(lan, host, argv));
  EXPECT_TRUE(receiver->WaitForStderr("mcast_recv: joined", kWait)) << receiver->Stderr();
  return receiver;
}

// Runs mcast_send to completion with `args` (then GROUP PORT); returns its
// exit code (-1 if it did not finish in time) and its stderr.
std::pair<int, std::string> Send(const std::vector<std::string>& prefix, const std::string& group,
                                 std::vector<std::string> args) {
  std::vector<std::string> argv = prefix;
  argv.push_back(BinaryPath("mcast_send"));
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(group);
  argv.push_back(kPort);
  std::string err;
  absl::StatusOr<int> code = Lab::Run(argv, kWait, nullptr, &err);
  if (!code.ok()) return {-1, code.status().ToString()};
  return {*code, err};
}

std::vector<std::string> NamespacesOf(const std::string& tag) {
  absl::StatusOr<std::vector<std::string>> all = Lab::ListNamespaces();
  EXPECT_TRUE(all.ok()) << all.status();
  std::vector<std::string> mine;
  if (!all.ok()) return mine;
  for (const std::string& ns : *all) {
    if (absl::StartsWith(ns, absl::StrCat("cnplab-", tag, "-"))) mine.push_back(ns);
  }
  return mine;
}

// Destroys the lab and checks that none of its namespaces is left.
void TearDownAndExpectNothingLeft(std::unique_ptr<Lab>& lab) {
  const std::string tag = lab->tag();
  lab.reset();
  EXPECT_THAT(NamespacesOf(tag), IsEmpty()) << "lab " << tag << " left namespaces behind";
}

TEST(LabTest, BuildsTheTopologyAndTearsItDown) {
  LabOptions options;
  options.lans = 3;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  EXPECT_EQ(lab->HostAddress(2, 1), "10.77.2.11");
  EXPECT_EQ(lab->RouterAddress(3), "10.77.3.1");
  EXPECT_EQ(NamespacesOf(lab->tag()).size(), 1u + 3u + 3u * 2u);  // router, switches, hosts

  std::string out;
  absl::StatusOr<int> code = Lab::Run(
      lab->Command(3, 2, {"/bin/sh", "-c", "ip -4 -o addr show dev eth0; ip route"}), kWait, &out);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(out, HasSubstr("10.77.3.12/24"));
  EXPECT_THAT(out, HasSubstr("default via 10.77.3.1"));
  EXPECT_THAT(out, HasSubstr("224.0.0.0/4 dev eth0"));

  // The router forwards unicast and has no multicast routes.
  code = Lab::Run(
      lab->RouterCommand({"/bin/sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ip mroute show"}),
      kWait, &out);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(out, "1");

  TearDownAndExpectNothingLeft(lab);
}

TEST(LabTest, UnicastCrossesTheRouterAndTheUplinksCountIt) {
  CANOPY_LAB_OR_SKIP(lab, LabOptions{});
  absl::StatusOr<UplinkCounters> lan1_before = lab->UplinkBytes(1);
  absl::StatusOr<UplinkCounters> lan2_before = lab->UplinkBytes(2);
  ASSERT_TRUE(lan1_before.ok()) << lan1_before.status();
  ASSERT_TRUE(lan2_before.ok()) << lan2_before.status();

  // mcast_send / mcast_recv with a unicast address are plain UDP programs.
  const std::string to = lab->HostAddress(2, 1);
  auto receiver = StartReceiver(*lab, 2, 1, to, {"--count", "50"});
  auto [code, err] =
      Send(lab->Exec(1, 1), to, {"--count", "50", "--size", "1000", "--rate", "1000"});
  ASSERT_EQ(code, 0) << err;
  ASSERT_TRUE(receiver->WaitForStdoutLines(50, kWait)) << receiver->Stderr();
  ASSERT_EQ(receiver->Wait(kWait), 0) << receiver->Stderr();
  EXPECT_THAT(Received(*receiver), ElementsAreArray(Numbered(1, 50, lab->HostAddress(1, 1))));

  absl::StatusOr<UplinkCounters> lan1_after = lab->UplinkBytes(1);
  absl::StatusOr<UplinkCounters> lan2_after = lab->UplinkBytes(2);
  ASSERT_TRUE(lan1_after.ok()) << lan1_after.status();
  ASSERT_TRUE(lan2_after.ok()) << lan2_after.status();
  // 50 datagrams of 1000 bytes (+ UDP/IP/Ethernet headers, + ARP) left LAN 1
  // and entered LAN 2; nearly nothing went the other way.
  const uint64_t out1 = lan1_after->out_of_lan - lan1_before->out_of_lan;
  const uint64_t in2 = lan2_after->into_lan - lan2_before->into_lan;
  EXPECT_GE(out1, 50u * 1000u);
  EXPECT_LT(out1, 50u * 1100u);
  EXPECT_GE(in2, 50u * 1000u);
  EXPECT_LT(in2, 50u * 1100u);
  EXPECT_LT(lan1_after->into_lan - lan1_before->into_lan, 1000u);
  EXPECT_GE(lan1_after->total() - lan1_before->total(), 50u * 1000u);

  receiver.reset();
  TearDownAndExpectNothingLeft(lab);
}

// A legacy sender on LAN 1 reaches a receiver on LAN 1 with any TTL, and
// nothing reaches LAN 2, whatever the TTL: the router hears the datagrams and
// does not forward them (no multicast routing), as on networks without the
// MBone.
class MulticastScopeTest : public ::testing::TestWithParam<int> {};

TEST_P(MulticastScopeTest, ReachesItsOwnLanOnly) {
  const std::string ttl = absl::StrCat(GetParam());
  CANOPY_LAB_OR_SKIP(lab, LabOptions{});
  auto same_lan = StartReceiver(*lab, 1, 2, kGroup, {"--count", "20"});
  auto other_lan = StartReceiver(*lab, 2, 1, kGroup, {});
  absl::StatusOr<UplinkCounters> lan1_before = lab->UplinkBytes(1);
  absl::StatusOr<UplinkCounters> lan2_before = lab->UplinkBytes(2);
  ASSERT_TRUE(lan1_before.ok()) << lan1_before.status();
  ASSERT_TRUE(lan2_before.ok()) << lan2_before.status();

  auto [code, err] =
      Send(lab->Exec(1, 1), kGroup, {"--ttl", ttl, "--count", "20", "--size", "500"});
  ASSERT_EQ(code, 0) << err;
  ASSERT_TRUE(same_lan->WaitForStdoutLines(20, kWait)) << same_lan->Stderr();
  ASSERT_EQ(same_lan->Wait(kWait), 0) << same_lan->Stderr();
  EXPECT_THAT(Received(*same_lan), ElementsAreArray(Numbered(1, 20, lab->HostAddress(1, 1))));
  EXPECT_FALSE(other_lan->WaitForStdoutLines(1, kQuiet));
  EXPECT_THAT(other_lan->StdoutLines(), IsEmpty());

  absl::StatusOr<UplinkCounters> lan1_after = lab->UplinkBytes(1);
  absl::StatusOr<UplinkCounters> lan2_after = lab->UplinkBytes(2);
  ASSERT_TRUE(lan1_after.ok()) << lan1_after.status();
  ASSERT_TRUE(lan2_after.ok()) << lan2_after.status();
  // The LAN's switch floods the datagrams to the router too...
  EXPECT_GE(lan1_after->out_of_lan - lan1_before->out_of_lan, 20u * 500u);
  // ...which sends not one of them into LAN 2.
  EXPECT_LT(lan2_after->into_lan - lan2_before->into_lan, 500u);

  other_lan.reset();
  same_lan.reset();
  TearDownAndExpectNothingLeft(lab);
}

INSTANTIATE_TEST_SUITE_P(Ttl, MulticastScopeTest, ::testing::Values(1, 8, 64),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat("Ttl", info.param);
                         });

TEST(LabTest, BlockedLanGetsNoMulticastUntilUnblocked) {
  CANOPY_LAB_OR_SKIP(lab, LabOptions{});
  ASSERT_TRUE(lab->BlockMulticast(1, true).ok());
  auto receiver = StartReceiver(*lab, 1, 2, kGroup, {});

  // Out: a blocked host cannot send multicast (the firewall refuses the send).
  auto [code, err] = Send(lab->Exec(1, 1), kGroup, {"--count", "10"});
  EXPECT_EQ(code, 1) << err;
  EXPECT_THAT(err, HasSubstr("10 failed"));
  // In: the router (not blocked) emits onto LAN 1; the datagrams reach the
  // LAN, but the blocked receiver drops them.
  absl::StatusOr<UplinkCounters> before = lab->UplinkBytes(1);
  ASSERT_TRUE(before.ok()) << before.status();
  std::tie(code, err) =
      Send(lab->RouterCommand({}), kGroup,
           {"--interface", lab->RouterAddress(1), "--count", "10", "--size", "200"});
  ASSERT_EQ(code, 0) << err;
  absl::StatusOr<UplinkCounters> after = lab->UplinkBytes(1);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GE(after->into_lan - before->into_lan, 10u * 200u);
  EXPECT_FALSE(receiver->WaitForStdoutLines(1, kQuiet));
  EXPECT_THAT(receiver->StdoutLines(), IsEmpty());

  // Unblocked, the same receiver (still joined) gets both again.
  ASSERT_TRUE(lab->BlockMulticast(1, false).ok());
  std::tie(code, err) = Send(lab->Exec(1, 1), kGroup, {"--count", "10"});
  ASSERT_EQ(code, 0) << err;
  ASSERT_TRUE(receiver->WaitForStdoutLines(10, kWait));
  std::tie(code, err) =
      Send(lab->RouterCommand({}), kGroup, {"--interface", lab->RouterAddress(1), "--count", "10"});
  ASSERT_EQ(code, 0) << err;
  ASSERT_TRUE(receiver->WaitForStdoutLines(20, kWait));
  std::vector<Datagram> expected = Numbered(1, 10, lab->HostAddress(1, 1));
  for (const Datagram& d : Numbered(1, 10, lab->RouterAddress(1))) expected.push_back(d);
  EXPECT_THAT(Received(*receiver), ElementsAreArray(expected));

  receiver.reset();
  TearDownAndExpectNothingLeft(lab);
}

TEST(LabTest, StartsWithARateLimitAndALanWithoutMulticast) {
  LabOptions options;
  options.lans = 3;
  options.hosts_per_lan = 1;
  options.rate_mbit = 50;
  options.no_multicast_lans = {2};
  CANOPY_LAB_OR_SKIP(lab, options);

  for (int lan = 1; lan <= 3; ++lan) {
    std::string out;
    absl::StatusOr<int> code =
        Lab::Run(lab->Command(lan, 1, {"/bin/sh", "-c", "tc qdisc show dev eth0"}), kWait, &out);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_THAT(out, HasSubstr("tbf")) << "LAN " << lan;
    EXPECT_THAT(out, HasSubstr("50Mbit")) << "LAN " << lan;
  }

  // Unicast still crosses the router, from LAN 1 to LAN 3.
  const std::string to = lab->HostAddress(3, 1);
  auto unicast = StartReceiver(*lab, 3, 1, to, {"--count", "5"});
  auto [code, err] = Send(lab->Exec(1, 1), to, {"--count", "5"});
  ASSERT_EQ(code, 0) << err;
  ASSERT_EQ(unicast->Wait(kWait), 0) << unicast->Stderr();
  unicast.reset();

  // The router's emissions reach LAN 3's receiver but not LAN 2's.
  auto blocked = StartReceiver(*lab, 2, 1, kGroup, {});
  auto open = StartReceiver(*lab, 3, 1, kGroup, {"--count", "5"});
  for (int lan : {2, 3}) {
    std::tie(code, err) = Send(lab->RouterCommand({}), kGroup,
                               {"--interface", lab->RouterAddress(lan), "--count", "5"});
    ASSERT_EQ(code, 0) << err;
  }
  ASSERT_TRUE(open->WaitForStdoutLines(5, kWait)) << open->Stderr();
  ASSERT_EQ(open->Wait(kWait), 0) << open->Stderr();
  EXPECT_THAT(Received(*open), ElementsAreArray(Numbered(1, 5, lab->RouterAddress(3))));
  EXPECT_FALSE(blocked->WaitForStdoutLines(1, kQuiet));

  blocked.reset();
  open.reset();
  TearDownAndExpectNothingLeft(lab);
}

}  // namespace
}  // namespace canopy::testing
