#include "client-sdk/examples/progress.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::examples {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMiB = 1 << 20;

TEST(ProgressMeterTest, RateIsTakenOverTheRecentWindow) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ProgressMeter meter(100 * kMiB, t0);
  // 40 MiB in the first second, then 1 MiB/s: the window sees 1 MiB/s.
  meter.Record(40 * kMiB, t0 + absl::Seconds(1));
  for (int s = 2; s <= 10; ++s) meter.Record((40 + s - 1) * kMiB, t0 + absl::Seconds(s));
  const std::string line = meter.Line("recv", t0 + absl::Seconds(10));
  EXPECT_THAT(line, HasSubstr(" 49%"));
  EXPECT_THAT(line, HasSubstr("49.0/100.0 MiB"));
  EXPECT_THAT(line, HasSubstr("8.4 Mbit/s"));  // 1 MiB/s, not the 4.9 MiB/s average
  EXPECT_THAT(line, HasSubstr("0:10 elapsed"));
  EXPECT_THAT(line, HasSubstr("ETA 0:51"));
}

TEST(ProgressMeterTest, AStallIsNamedAndItsLengthCounted) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ProgressMeter meter(10 * kMiB, t0);
  meter.Record(5 * kMiB, t0 + absl::Seconds(1));
  EXPECT_THAT(meter.Line("send", t0 + absl::Milliseconds(1200)), Not(HasSubstr("stalled")));
  const std::string stalled = meter.Line("send", t0 + absl::Seconds(4));
  EXPECT_THAT(stalled, HasSubstr("stalled for 3.0 s"));
  EXPECT_THAT(stalled, HasSubstr("0:04 elapsed"));
  EXPECT_THAT(stalled, Not(HasSubstr("ETA")));
  EXPECT_THAT(meter.Line("send", t0 + absl::Seconds(31)), HasSubstr("stalled for 30 s"));
  meter.Record(6 * kMiB, t0 + absl::Seconds(31));
  EXPECT_THAT(meter.Line("send", t0 + absl::Seconds(31)), Not(HasSubstr("stalled")));
}

TEST(ProgressMeterTest, CompleteShowsTheAverage) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ProgressMeter meter(10 * kMiB, t0);
  meter.Record(10 * kMiB, t0 + absl::Seconds(2));
  EXPECT_TRUE(meter.complete());
  const std::string line = meter.Line("send", t0 + absl::Seconds(5));
  EXPECT_THAT(line, HasSubstr("100%"));
  EXPECT_THAT(line, HasSubstr("41.9 Mbit/s average  0:02 elapsed"));
}

// Reads what arrives on `fd` until `text` shows or `deadline` passes.
std::string ReadUntil(int fd, const std::string& text, absl::Time deadline) {
  std::string seen;
  while (seen.find(text) == std::string::npos) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    seen.append(buffer, static_cast<size_t>(n));
  }
  return seen;
}

// On a pseudo-terminal the bar redraws by itself: a transfer that stops
// shows as stalled within a second, with no further Update.
TEST(ProgressBarTest, AStallShowsOnATerminalWithinASecond) {
  int controller = -1, terminal = -1;
  ASSERT_EQ(openpty(&controller, &terminal, nullptr, nullptr, nullptr), 0);
  {
    ProgressBar bar("recv", 10 * kMiB, terminal);
    bar.Update(2 * kMiB);
    const absl::Time stalled_since = absl::Now();
    const std::string seen = ReadUntil(controller, "stalled for", stalled_since + absl::Seconds(1));
    EXPECT_THAT(seen, HasSubstr("stalled for")) << seen;
    EXPECT_THAT(seen, HasSubstr(" 20%")) << seen;
    bar.Update(10 * kMiB);
    EXPECT_THAT(ReadUntil(controller, "\n", absl::Now() + absl::Seconds(1)), HasSubstr("100%"));
  }
  close(terminal);
  close(controller);
}

TEST(ProgressBarTest, DrawsNothingWhenNotATerminal) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_NONBLOCK), 0);
  {
    ProgressBar bar("recv", 10 * kMiB, pipe_fds[1]);
    bar.Update(10 * kMiB);
  }
  char c;
  EXPECT_EQ(read(pipe_fds[0], &c, 1), -1);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

}  // namespace
}  // namespace canopy::examples
