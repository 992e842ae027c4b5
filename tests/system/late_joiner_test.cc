// A late joiner behind a slow link, in the lab (every host link 20 Mbit/s):
// a publisher's node holds a stream in its replay ring; a subscriber that
// joins on another node afterwards is caught up from the ring while the
// stream goes on. Catching up keeps that node's link full for several times
// --detach-after-ms while it drains at the link's rate: the child is waited
// for, not cut off, and the late subscriber gets every message once, in
// order.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/system/gateway_lab.h"
#include "tests/system/lab.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(90);
constexpr int kMessages = 640;  // before the late joiner: 10 MiB, 4.2 s at 20 Mbit/s
constexpr int kMore = 64;       // while it catches up
constexpr size_t kBytes = 16 << 10;

class LateJoinerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/canopy-late-joiner.XXXXXX";
    dir_ = mkdtemp(dir_template);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Logs() {
    std::string out = "\n--- controller\n" + controller_->Stderr();
    for (auto& [host, n] : nodes_) out += absl::StrCat("\n--- gw1", host, "\n", n->Stderr());
    return out;
  }

  // The node on l1h<host> ("gw1<host>"), with unicast links only: the
  // catch-up is what is tried.
  void StartNode(const Lab& lab, int host, std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--discovery-interval-ms", "0"});
    nodes_[host] = StartLabNode(lab, 1, host, extra);
  }

  // A subscriber on `host` that ends after `count` messages.
  std::unique_ptr<Process> StartSubscriber(const Lab& lab, int host, int count) {
    auto sub = std::make_unique<Process>(
        lab.Command(1, host,
                    {BinaryPath("canopy-sub"), "--node", lab.HostAddress(1, host) + ":7001",
                     "--group", "g", "--count", absl::StrCat(count)}));
    EXPECT_TRUE(sub->WaitForStderr("joined", kWait)) << sub->Stderr() << Logs();
    return sub;
  }

  // Every message m0.. once, in order, and no gap.
  void ExpectEverythingInOrder(Process& sub) {
    const std::optional<int> exit_code = sub.Wait(kWait);
    const std::vector<std::string> lines = sub.StdoutLines();
    ASSERT_EQ(exit_code, 0) << lines.size() << " lines, the last "
                            << (lines.empty() ? "none" : lines.back().substr(0, 8)) << "\n"
                            << sub.Stderr() << Logs();
    ASSERT_EQ(lines.size(), static_cast<size_t>(kMessages + kMore));
    for (int i = 0; i < kMessages + kMore; ++i) {
      ASSERT_TRUE(absl::StartsWith(lines[i], absl::StrCat("m", i, "-"))) << i;
    }
    EXPECT_FALSE(absl::StrContains(sub.Stderr(), "gap")) << sub.Stderr();
  }

  std::string dir_;
  std::unique_ptr<Process> controller_;
  std::map<int, std::unique_ptr<Process>> nodes_;  // by host
};

TEST_F(LateJoinerTest, CatchingUpOverASlowLinkIsWaitedForNotCutOff) {
  LabOptions options;
  options.lans = 1;
  options.hosts_per_lan = 3;
  options.rate_mbit = 20;
  CANOPY_LAB_OR_SKIP(lab, options);
  controller_ = StartLabController(*lab, dir_);
  if (HasFailure()) return;
  // The publisher's node detaches a child whose link stays full and does
  // not drain for 1 s.
  StartNode(*lab, 1, {"--detach-after-ms", "1000", "--replay-mib", "64"});
  StartNode(*lab, 2, {});
  StartNode(*lab, 3, {});
  if (HasFatalFailure()) return;

  // The early subscriber stays (a count it never reaches): the late one's
  // catch-up must not depend on a membership change that relinks gw12.
  std::unique_ptr<Process> early = StartSubscriber(*lab, 3, 2 * (kMessages + kMore));
  Process pub(lab->Command(1, 1,
                           {BinaryPath("canopy-pub"), "--node", lab->HostAddress(1, 1) + ":7001",
                            "--group", "g", "--source", "trainer"}));
  ASSERT_TRUE(pub.WriteStdin(NumberedLines(0, kMessages, kBytes)));
  ASSERT_TRUE(early->WaitForStdoutLines(kMessages, kWait)) << early->Stderr() << Logs();

  // Now a subscriber joins on gw12: it asks gw11 for the flow from its start,
  // and gw11's link to gw12 stays full for about 4 s while it drains. The
  // stream goes on meanwhile, so gw11 waits on that full link.
  std::unique_ptr<Process> late = StartSubscriber(*lab, 2, kMessages + kMore);
  ASSERT_TRUE(pub.WriteStdin(NumberedLines(kMessages, kMore, kBytes)));
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(kWait), 0) << pub.Stderr() << Logs();
  ExpectEverythingInOrder(*late);
  ASSERT_TRUE(early->WaitForStdoutLines(kMessages + kMore, kWait)) << early->Stderr() << Logs();
  EXPECT_FALSE(absl::StrContains(nodes_[1]->Stderr(), "detaching child gw12")) << Logs();
}

}  // namespace
}  // namespace canopy::testing
