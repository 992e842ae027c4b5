// A child node that stops reading, on a chain with no detour (static links
// a–b, b–c): b detaches c once c's link stays full without draining, so the
// publisher at a is not held up, and opens the link again after a backoff.
// When c reads again (before the controller would declare it dead) it
// resumes from b's replay ring: its subscriber gets every message once, in
// order, with nothing declared lost.

#include <csignal>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr int kBefore = 100;
constexpr int kWhileStopped = 2000;  // 32 MiB: more than c's link and sockets hold
constexpr size_t kBytes = 16 << 10;

TEST(DetachTest, AChildThatStopsReadingIsDetachedThenResumesWhenItReadsAgain) {
  // A liveness far beyond the stop: the controller keeps c in the tree, so
  // only b's own relink can bring the stream back to it.
  Overlay overlay({"--liveness-ms", "30000"}, "a b 100\nb c 100\n");
  ASSERT_FALSE(overlay.StartNode("a", 0, {"--probe-interval-ms", "0"}).empty());
  ASSERT_FALSE(
      overlay.StartNode("b", 0, {"--probe-interval-ms", "0", "--detach-after-ms", "300"}).empty());
  ASSERT_FALSE(overlay.StartNode("c", 0, {"--probe-interval-ms", "0"}).empty());
  const int total = kBefore + kWhileStopped;
  std::unique_ptr<Process> sub =
      overlay.StartSubscriber("c", {"--group", "g", "--count", absl::StrCat(total)});
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << sub->Stderr() << overlay.Logs();
  std::unique_ptr<Process> pub = overlay.StartPublisher("a", "g", "src");
  ASSERT_TRUE(pub->WriteStdin(NumberedLines(0, kBefore, kBytes)));
  ASSERT_TRUE(sub->WaitForStdoutLines(kBefore, kWait)) << sub->Stderr() << overlay.Logs();

  overlay.node("c").Signal(SIGSTOP);
  // The publisher is not held up for long: c is detached and the rest
  // flows into a's and b's rings.
  const bool written = pub->WriteStdin(NumberedLines(kBefore, kWhileStopped, kBytes));
  const bool detached = overlay.node("b").WaitForStderr("detaching child c", kWait).has_value();
  overlay.node("c").Signal(SIGCONT);
  ASSERT_TRUE(written);
  ASSERT_TRUE(detached) << overlay.Logs();
  pub->CloseStdin();
  EXPECT_EQ(pub->Wait(kWait), 0) << pub->Stderr();

  const std::optional<int> exit_code = sub->Wait(kWait);
  const std::vector<std::string> lines = sub->StdoutLines();
  ASSERT_EQ(exit_code, 0) << lines.size() << " lines\n" << sub->Stderr() << overlay.Logs();
  ASSERT_EQ(lines.size(), static_cast<size_t>(total));
  for (int i = 0; i < total; ++i) {
    ASSERT_TRUE(absl::StartsWith(lines[i], absl::StrCat("m", i, "-"))) << i;
  }
  EXPECT_FALSE(absl::StrContains(sub->Stderr(), "gap")) << sub->Stderr();
}

}  // namespace
}  // namespace canopy::testing
