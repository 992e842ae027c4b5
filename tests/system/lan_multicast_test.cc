// Native multicast on a LAN, in the lab: a publisher on LAN 1 and three
// subscribers' nodes on LAN 2, where multicast works. The tree enters LAN 2
// once; its forwarder re-emits each message by UDP multicast, so the LAN's
// uplink carries one copy, not three, and every subscriber still gets every
// message once, in order. When LAN 2 starts dropping multicast, its nodes
// are served by unicast again and keep receiving.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr int kSubscribers = 3;

// Polls `canopyctl nodes` until every LAN-2 node lists a domain of all of them.
bool AwaitLanDomain(const Lab& lab, const std::string& controller, const std::string& domain,
                    bool present) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    Process ctl(lab.Command(1, 1, {BinaryPath("canopyctl"), "--controller", controller, "nodes"}));
    int matching = 0;
    if (ctl.Wait(kWait) == 0) {
      for (const std::string& line : ctl.StdoutLines()) {
        if (absl::StartsWith(line, "n2") && absl::EndsWith(line, domain)) ++matching;
      }
    }
    if (present ? matching == kSubscribers : matching == 0) return true;
    absl::SleepFor(absl::Milliseconds(200));  // poll interval
  }
  return false;
}

// Polls until `canopyctl tree G` shows `needle` (or no longer shows it).
bool AwaitTreeText(const Lab& lab, const std::string& controller, const std::string& needle,
                   bool present, std::string* last) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    Process ctl(
        lab.Command(1, 1, {BinaryPath("canopyctl"), "--controller", controller, "tree", "g"}));
    if (ctl.Wait(kWait) == 0) {
      *last = absl::StrJoin(ctl.StdoutLines(), "\n");
      if (absl::StrContains(*last, needle) == present) return true;
    }
    absl::SleepFor(absl::Milliseconds(200));  // poll interval
  }
  return false;
}

// Bytes host (lan, host) has sent on its LAN link so far.
uint64_t SentBytes(const Lab& lab, int lan, int host) {
  Process cat(lab.Command(lan, host, {"/bin/cat", "/sys/class/net/eth0/statistics/tx_bytes"}));
  if (cat.Wait(kWait) != 0 || cat.StdoutLines().empty()) return 0;
  return std::strtoull(cat.StdoutLines().front().c_str(), nullptr, 10);
}

// Bytes the LAN-2 hosts sent in all.
uint64_t Lan2SentBytes(const Lab& lab) {
  uint64_t sum = 0;
  for (int h = 1; h <= kSubscribers; ++h) sum += SentBytes(lab, 2, h);
  return sum;
}

class LanMulticastTest : public ::testing::Test {
 protected:
  std::string Logs() {
    std::string out = "\n--- controller\n" + controller_->Stderr();
    for (auto& [id, n] : nodes_) out += "\n--- " + id + "\n" + n->Stderr();
    for (auto& s : subscribers_) out += "\n--- subscriber\n" + s->Stderr();
    return out;
  }

  void StartNode(const Lab& lab, int lan, int host) {
    const std::string id = absl::StrCat("n", lan, host);
    const std::string address = lab.HostAddress(lan, host);
    nodes_[id] = std::make_unique<Process>(
        lab.Command(lan, host,
                    {BinaryPath("canopy-node"), "--id", id, "--controller", controller_address_,
                     "--listen", address + ":7001", "--data", address + ":7002",
                     "--discovery-interval-ms", "200", "--probe-interval-ms", "0", "--plaintext"}));
    ASSERT_TRUE(nodes_[id]->WaitForStdout("listening", kWait)) << nodes_[id]->Stderr();
  }

  // Publishes `count` numbered lines of `bytes` bytes from LAN 1.
  void Publish(const Lab& lab, int first, int count, size_t bytes) {
    Process pub(lab.Command(1, 1,
                            {BinaryPath("canopy-pub"), "--node", lab.HostAddress(1, 1) + ":7001",
                             "--group", "g", "--source", "cam"}));
    std::string input;
    for (int i = first; i < first + count; ++i) {
      std::string line = absl::StrCat("m", i, "-");
      line.resize(bytes, 'x');
      input += line + "\n";
    }
    ASSERT_TRUE(pub.WriteStdin(input));
    pub.CloseStdin();
    ASSERT_EQ(pub.Wait(kWait), 0) << pub.Stderr() << Logs();
  }

  static LabOptions LabFor() {
    LabOptions options;
    options.lans = 2;
    options.hosts_per_lan = kSubscribers;
    return options;
  }

  // A controller and a node on l1h1, a node on each LAN-2 host; returns
  // once LAN 2 is one multicast domain.
  void StartOverlay(const Lab& lab) {
    controller_address_ = lab.HostAddress(1, 1) + ":7000";
    controller_ = std::make_unique<Process>(
        lab.Command(1, 1,
                    // The lab's private addresses: plaintext on purpose.
                    {BinaryPath("canopy-controller"), "--listen", controller_address_, "--store",
                     dir_ + "/store.db", "--plaintext"}));
    ASSERT_TRUE(controller_->WaitForStdout("listening", kWait)) << controller_->Stderr();
    StartNode(lab, 1, 1);
    for (int h = 1; h <= kSubscribers; ++h) StartNode(lab, 2, h);
    ASSERT_TRUE(AwaitLanDomain(lab, controller_address_, "n21,n22,n23", true)) << Logs();
  }

  // A subscriber on each LAN-2 node that ends after `count` messages.
  void StartSubscribers(const Lab& lab, int count) {
    for (int h = 1; h <= kSubscribers; ++h) {
      subscribers_.push_back(std::make_unique<Process>(
          lab.Command(2, h,
                      {BinaryPath("canopy-sub"), "--node", lab.HostAddress(2, h) + ":7001",
                       "--group", "g", "--count", absl::StrCat(count)})));
      ASSERT_TRUE(subscribers_.back()->WaitForStderr("joined", kWait)) << Logs();
    }
  }

  // Every subscriber ends with `count` messages m0.. in order and no gap.
  void ExpectEverythingInOrder(int count) {
    for (auto& s : subscribers_) {
      const std::optional<int> exit_code = s->Wait(kWait);
      const std::vector<std::string> lines = s->StdoutLines();
      ASSERT_EQ(exit_code, 0) << lines.size() << " lines, the last "
                              << (lines.empty() ? "none" : lines.back().substr(0, 8)) << "\n"
                              << s->Stderr() << Logs();
      ASSERT_EQ(lines.size(), static_cast<size_t>(count));
      for (int i = 0; i < count; ++i) {
        ASSERT_TRUE(absl::StartsWith(lines[i], absl::StrCat("m", i, "-"))) << i << ": " << lines[i];
      }
      EXPECT_FALSE(absl::StrContains(s->Stderr(), "gap")) << s->Stderr();
    }
  }

  void SetUp() override {
    char dir_template[] = "/tmp/canopy-lan-mcast.XXXXXX";
    dir_ = mkdtemp(dir_template);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::string controller_address_;
  std::unique_ptr<Process> controller_;
  std::map<std::string, std::unique_ptr<Process>> nodes_;
  std::vector<std::unique_ptr<Process>> subscribers_;
};

TEST_F(LanMulticastTest, OneCopyCrossesTheUplinkAndEveryMemberGetsEverythingInOrder) {
  CANOPY_LAB_OR_SKIP(lab, LabFor());
  StartOverlay(*lab);
  if (HasFatalFailure()) return;
  constexpr int kMessages = 400;
  constexpr size_t kBytes = 3000;  // three datagrams each
  StartSubscribers(*lab, 2 * kMessages);
  // The first message makes the flow; then its tree enters LAN 2 once.
  Publish(*lab, 0, 1, kBytes);
  std::string tree;
  ASSERT_TRUE(AwaitTreeText(*lab, controller_address_, "multicast", true, &tree)) << tree << Logs();

  absl::StatusOr<UplinkCounters> before = lab->UplinkBytes(2);
  ASSERT_TRUE(before.ok()) << before.status();
  const uint64_t lan_sent_before = Lan2SentBytes(*lab);
  Publish(*lab, 1, kMessages - 1, kBytes);
  for (auto& s : subscribers_) ASSERT_TRUE(s->WaitForStdoutLines(kMessages, kWait)) << Logs();
  absl::StatusOr<UplinkCounters> after = lab->UplinkBytes(2);
  ASSERT_TRUE(after.ok()) << after.status();
  const double published = static_cast<double>((kMessages - 1) * kBytes);
  const double into_lan = static_cast<double>(after->into_lan - before->into_lan);
  // One copy (plus headers and acknowledgements), where unicast would carry 3.
  EXPECT_LT(into_lan / published, 1.5) << into_lan << " bytes for " << published << Logs();
  EXPECT_GT(into_lan / published, 0.9);
  // Inside the LAN the forwarder sends each message once, by multicast, not
  // once per other member.
  const double lan_sent = static_cast<double>(Lan2SentBytes(*lab) - lan_sent_before);
  EXPECT_LT(lan_sent / published, 1.5) << lan_sent << " bytes sent in LAN 2" << Logs();
  std::printf("uplink %.3f, LAN 2 hosts sent %.3f bytes per published byte\n", into_lan / published,
              lan_sent / published);

  // Now LAN 2 drops multicast: its domain goes, unicast serves it again.
  ASSERT_TRUE(lab->BlockMulticast(2, true).ok());
  ASSERT_TRUE(AwaitLanDomain(*lab, controller_address_, "n21,n22,n23", false)) << Logs();
  ASSERT_TRUE(AwaitTreeText(*lab, controller_address_, "multicast", false, &tree))
      << tree << Logs();
  Publish(*lab, kMessages, kMessages, kBytes);
  ExpectEverythingInOrder(2 * kMessages);
}

TEST_F(LanMulticastTest, LostDatagramsAreRepairedFromTheForwarder) {
  CANOPY_LAB_OR_SKIP(lab, LabFor());
  StartOverlay(*lab);
  if (HasFatalFailure()) return;
  constexpr int kMessages = 300;
  StartSubscribers(*lab, kMessages);
  Publish(*lab, 0, 1, 2000);
  std::string tree;
  ASSERT_TRUE(AwaitTreeText(*lab, controller_address_, "multicast", true, &tree)) << tree << Logs();
  // Once the flow has started everywhere (a node takes the first frame it
  // sees of a flow as its start) ...
  for (auto& s : subscribers_) ASSERT_TRUE(s->WaitForStdoutLines(1, kWait)) << Logs();
  // ... every LAN-2 host drops one in ten datagrams of the multicast data path
  // (not the discovery probes: the domain stays).
  for (int h = 1; h <= kSubscribers; ++h) {
    Process nft(lab->Command(2, h, {"/usr/sbin/nft", "-f", "-"}));
    ASSERT_TRUE(nft.WriteStdin(
        "table inet lossy {\n"
        "  chain in {\n"
        "    type filter hook input priority 0; policy accept;\n"
        "    ip daddr 224.0.0.0/4 udp dport 7800 numgen random mod 10 == 0 counter drop\n"
        "  }\n"
        "}\n"));
    nft.CloseStdin();
    ASSERT_EQ(nft.Wait(kWait), 0) << nft.Stderr();
  }
  Publish(*lab, 1, kMessages - 1, 2000);
  ExpectEverythingInOrder(kMessages);
  // The repairs were asked of the forwarder over its unicast links.
  int asked = 0;
  for (int h = 1; h <= kSubscribers; ++h) {
    if (absl::StrContains(nodes_[absl::StrCat("n2", h)]->Stderr(), "repairs multicast")) ++asked;
  }
  EXPECT_GE(asked, 1) << Logs();
}

}  // namespace
}  // namespace canopy::testing
