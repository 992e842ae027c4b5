// Bad flags are refused, not absorbed: every binary answers a bad value of a
// numeric or list flag with exit code 2 and one stderr line naming the flag,
// before it does anything else.

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(20);

struct Case {
  std::vector<std::string> argv;  // binary name, then arguments
  std::string flag;               // the flag the refusal must name
};

// Arguments a binary needs before it looks at the flag under test.
std::vector<std::string> Needed(const std::string& binary) {
  if (binary == "canopy-node") return {"--id", "n", "--controller", "127.0.0.1:1"};
  if (binary == "canopy-pub" || binary == "canopy-sub")
    return {"--node", "127.0.0.1:1", "--group", "g"};
  if (binary == "canopy-send") return {"no-such-file", "--node", "127.0.0.1:1", "--group", "g"};
  if (binary == "canopy-recv") {
    return {"--node", "127.0.0.1:1", "--group", "g", "--out", ::testing::TempDir()};
  }
  if (binary == "param_broadcast")
    return {"--role", "trainer", "--node", "127.0.0.1:1", "--group", "g"};
  return {};
}

std::vector<Case> Cases() {
  return {
      {{"canopy-controller", "--liveness-ms", "0"}, "--liveness-ms"},
      {{"canopy-controller", "--liveness-ms", "-1"}, "--liveness-ms"},
      {{"canopy-controller", "--membership-timeout-ms", "0"}, "--membership-timeout-ms"},
      {{"canopy-controller", "--reoptimize-ms", "-5"}, "--reoptimize-ms"},
      {{"canopy-controller", "--hysteresis-percent", "nan"}, "--hysteresis-percent"},
      {{"canopy-controller", "--hysteresis-percent", "101"}, "--hysteresis-percent"},
      {{"canopy-controller", "--multicast-port", "0"}, "--multicast-port"},
      {{"canopy-node", "--max-payload", "0"}, "--max-payload"},
      {{"canopy-node", "--max-payload", "4294967295"}, "--max-payload"},
      {{"canopy-node", "--max-fanout", "-1"}, "--max-fanout"},
      {{"canopy-node", "--upload-bps", "-1"}, "--upload-bps"},
      {{"canopy-node", "--replay-mib", "0"}, "--replay-mib"},
      {{"canopy-node", "--source-linger-ms", "-1"}, "--source-linger-ms"},
      {{"canopy-node", "--probe-interval-ms", "-1"}, "--probe-interval-ms"},
      {{"canopy-node", "--discovery-interval-ms", "1e3"}, "--discovery-interval-ms"},
      {{"canopy-node", "--detach-after-ms", "0"}, "--detach-after-ms"},
      {{"canopy-node", "--fault-flip-every", "-1"}, "--fault-flip-every"},
      {{"canopy-node", "--max-subscriptions", "0"}, "--max-subscriptions"},
      {{"canopy-node", "--max-publishers", "010"}, "--max-publishers"},
      {{"canopy-node", "--max-links-per-peer", "1"}, "--max-links-per-peer"},
      {{"canopy-node", "--gateway-ttl", "0"}, "--gateway-ttl"},
      {{"canopy-node", "--multicast-datagram-bytes", "100"}, "--multicast-datagram-bytes"},
      {{"canopy-node", "--gateway", "not-an-address"}, "--gateway"},
      {{"canopy-sub", "--count", "-1"}, "--count"},
      {{"canopy-sub", "--join-timeout", "nan"}, "--join-timeout"},
      {{"canopy-sub", "--join-timeout", "-5"}, "--join-timeout"},
      {{"canopy-sub", "--include", ",,,"}, "--include"},
      {{"canopy-sub", "--exclude", "a,,b"}, "--exclude"},
      {{"canopy-sub", "--include", "bad source"}, "--include"},
      {{"canopy-sub", "--group", "bad group"}, "--group"},
      {{"canopy-pub", "--source", "bad source"}, "--source"},
      {{"canopy-send", "--chunk-kib", "0"}, "--chunk-kib"},
      {{"canopy-send", "--stripes", "65"}, "--stripes"},
      {{"canopy-recv", "--count", "0"}, "--count"},
      {{"canopy-recv", "--timeout-s", "-5"}, "--timeout-s"},
      {{"canopy-recv", "--timeout-s", "inf"}, "--timeout-s"},
      {{"canopy-recv", "--max-mib", "0"}, "--max-mib"},
      {{"param_broadcast", "--tensors", "-1"}, "--tensors"},
      {{"param_broadcast", "--tensors", "2147483647"}, "--tensors"},
      {{"param_broadcast", "--tensors", "65536", "--tensor-kib", "1048576"}, "--tensors"},
      {{"param_broadcast", "--tensor-kib", "0"}, "--tensor-kib"},
      {{"param_broadcast", "--seed", "-1"}, "--seed"},
      {{"param_broadcast", "--max-mib", "0"}, "--max-mib"},
      {{"canopyctl", "policy", "set", "g", "--allow", ",,,"}, "--allow"},
      {{"canopyctl", "policy", "set", "g", "--ttl", "0"}, "--ttl"},
      {{"canopy-tree", "spt", "--stp", "no-such-file", "--root", "-1"}, "--root"},
      {{"canopy-tree", "steiner", "--stp", "no-such-file", "--time-limit-ms", "0"},
       "--time-limit-ms"},
      {{"bench-planner", "--seed", "-1"}, "--seed"},
      {{"bench-planner", "--yardstick-seconds", "nan"}, "--yardstick-seconds"},
      {{"bench-planner", "--max-fanout", "-1"}, "--max-fanout"},
      {{"bench-planner", "--members", "0"}, "--members"},
      {{"bench-relay", "--seconds", "nan"}, "--seconds"},
      {{"bench-relay", "--message-bytes", "0"}, "--message-bytes"},
      {{"bench-bulk-shapes", "--receivers", "0"}, "--receivers"},
      {{"bench-bulk-shapes", "--max-stripes", "65"}, "--max-stripes"},
      {{"bench-steinlib", "--series", ",,,"}, "--series"},
      {{"bench-steinlib", "--noise-percent", "-2"}, "--noise-percent"},
      {{"bench-steinlib", "--max-per-series", "-1"}, "--max-per-series"},
  };
}

TEST(BadFlagsTest, EveryBinaryRefusesBadValuesWithExitTwoAndOneLineNamingTheFlag) {
  for (const Case& c : Cases()) {
    const std::string& binary = c.argv[0];
    std::vector<std::string> argv = {BinaryPath(binary)};
    for (const std::string& a : Needed(binary)) argv.push_back(a);
    argv.insert(argv.end(), c.argv.begin() + 1, c.argv.end());
    const std::string label = absl::StrJoin(c.argv, " ");
    Process p(argv);
    EXPECT_EQ(p.Wait(kWait), 2) << label << "\n" << p.Stderr();
    const std::vector<std::string> lines = absl::StrSplit(p.Stderr(), '\n', absl::SkipEmpty());
    ASSERT_THAT(lines, SizeIs(1)) << label << "\n" << p.Stderr();
    EXPECT_THAT(lines[0], StartsWith(binary + ": ")) << label;
    EXPECT_THAT(lines[0], HasSubstr(c.flag)) << label;
  }
}

}  // namespace
}  // namespace canopy::testing
