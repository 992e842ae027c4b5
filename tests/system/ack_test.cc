// Delivery acknowledgements end to end through real nodes on a chain
// (node-a → node-b → node-c, one receiver at each): `canopy-send
// --min-receivers 3` returns once all three hold the file verified, and
// once one receiver is killed it exits 1 naming that receiver.

#include <csignal>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

std::vector<std::string> Send(Overlay& overlay, const std::string& file, const char* ack_timeout) {
  return {BinaryPath("canopy-send"), file,          "--node",          overlay.client_address("node-a"),
          "--group",                 "acks",        "--source",        "trainer",
          "--chunk-kib",             "256",         "--min-receivers", "3",
          "--ack-timeout",           ack_timeout};
}

TEST(AckTest, SendWaitsForEveryReceiverAndNamesTheOneKilled) {
  Overlay overlay;
  overlay.StartNode("node-a", /*max_fanout=*/1);
  overlay.StartNode("node-b", /*max_fanout=*/1);
  overlay.StartNode("node-c");
  std::vector<std::unique_ptr<Process>> receivers;
  for (const char* node : {"node-a", "node-b", "node-c"}) {
    const std::string keep = overlay.WriteFile(std::string("out-") + node + "/.keep", "");
    receivers.push_back(std::make_unique<Process>(std::vector<std::string>{
        BinaryPath("canopy-recv"), "--node", overlay.client_address(node), "--group", "acks",
        "--out", keep.substr(0, keep.rfind('/')), "--count", "3", "--timeout-s", "120",
        "--member", std::string("w-") + node}));
    ASSERT_TRUE(receivers.back()->WaitForStderr("joined", kWait)) << receivers.back()->Stderr();
  }

  // All three hold it: the send returns 0 and says so.
  const std::string first = overlay.WriteFile("first.bin", RandomBytes(3 << 20, 1));
  Process send(Send(overlay, first, "60"));
  ASSERT_EQ(send.Wait(absl::Seconds(90)), 0) << send.Stderr() << overlay.Logs();
  ASSERT_FALSE(send.StdoutLines().empty());
  EXPECT_THAT(send.StdoutLines().back(), HasSubstr("\"receivers\":3"));
  for (auto& r : receivers) {
    ASSERT_TRUE(r->WaitForStdoutLines(1, kWait)) << r->Stderr();
    EXPECT_THAT(r->StdoutLines().front(), HasSubstr("first.bin"));
  }

  // The receiver at the end of the chain dies: two of three can hold the
  // next file, and the send says who is missing.
  receivers[2]->Signal(SIGKILL);
  receivers[2]->Wait(kWait);
  const std::string second = overlay.WriteFile("second.bin", RandomBytes(1 << 20, 2));
  Process short_send(Send(overlay, second, "3"));
  EXPECT_EQ(short_send.Wait(absl::Seconds(60)), 1) << short_send.Stderr() << overlay.Logs();
  EXPECT_THAT(short_send.Stderr(), HasSubstr("2 of 3 receivers hold"));
  EXPECT_THAT(short_send.Stderr(), HasSubstr("w-node-c@node-c"));
  EXPECT_THAT(short_send.Stderr(), Not(HasSubstr("w-node-b")));
  // The two that live hold it (they stay subscribed: --count 3).
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(receivers[i]->WaitForStdoutLines(2, kWait)) << receivers[i]->Stderr();
    EXPECT_THAT(receivers[i]->StdoutLines()[1], HasSubstr("second.bin"));
  }
}

}  // namespace
}  // namespace canopy::testing
