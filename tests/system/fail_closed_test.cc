// Fail closed: a node that has no policy from the controller (it started
// while the controller was away) refuses every publisher with UNAVAILABLE;
// a node that has one keeps enforcing the last it got.

#include <csignal>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

// Publishes one line as `source` at `node` and returns canopy-pub's exit
// code; its stderr goes to `err`.
std::optional<int> PublishOnce(Overlay& overlay, const std::string& node, const std::string& source,
                               const std::string& line, std::string* err) {
  std::unique_ptr<Process> pub = overlay.StartPublisher(node, "g", source);
  pub->WriteStdin(line + "\n");
  pub->CloseStdin();
  std::optional<int> code = pub->Wait(kWait);
  *err = pub->Stderr();
  return code;
}

TEST(FailClosedTest, AllowListHoldsAcrossAControllerOutage) {
  Overlay overlay;
  ASSERT_FALSE(overlay.StartNode("a").empty());
  ASSERT_FALSE(overlay.StartNode("b").empty());
  ASSERT_TRUE(overlay.SetAllowList("g", {"trainer"}).ok());
  ASSERT_TRUE(overlay.AwaitTablesApplied());
  overlay.StopController(SIGKILL);

  // b keeps the policy it got: evil is refused, by name.
  std::string err;
  EXPECT_EQ(PublishOnce(overlay, "b", "evil", "from-evil", &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;

  // a restarts while the controller is away: it has no policy at all.
  overlay.RestartNode("a", /*await_listed=*/false);
  std::unique_ptr<Process> sub =
      overlay.StartSubscriber("a", {"--group", "g", "--with-source", "--join-timeout", "120"});
  EXPECT_EQ(PublishOnce(overlay, "a", "evil", "from-evil", &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "UNAVAILABLE")) << err;
  EXPECT_TRUE(absl::StrContains(err, "no policy for group 'g' from the controller yet")) << err;
  EXPECT_EQ(PublishOnce(overlay, "a", "trainer", "early", &err), 1);  // nobody, while unknown
  EXPECT_TRUE(absl::StrContains(err, "UNAVAILABLE")) << err;

  // The controller returns: the policy decides again.
  ASSERT_TRUE(overlay.StartControllerAgain());
  ASSERT_TRUE(overlay.AwaitNodeListed("a"));
  ASSERT_TRUE(sub->WaitForStderr("joined", kWait)) << sub->Stderr();
  EXPECT_EQ(PublishOnce(overlay, "a", "evil", "from-evil", &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;
  ASSERT_EQ(PublishOnce(overlay, "a", "trainer", "from-trainer", &err), 0) << err;
  ASSERT_TRUE(sub->WaitForStdout("from-trainer", kWait)) << overlay.Logs();
  for (const std::string& line : sub->StdoutLines()) {
    EXPECT_FALSE(absl::StrContains(line, "evil")) << line;
    EXPECT_FALSE(absl::StrContains(line, "early")) << line;
  }
}

}  // namespace
}  // namespace canopy::testing
