// Progress and summary output shared by canopy-send and canopy-recv.

#ifndef CANOPY_CLIENT_SDK_EXAMPLES_PROGRESS_H_
#define CANOPY_CLIENT_SDK_EXAMPLES_PROGRESS_H_

#include <unistd.h>

#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace canopy::examples {

// What a progress line says: bytes done of a total, percentage, the rate
// over the last kRateWindow (not since the start, so it falls during a
// stall), elapsed time and ETA; once nothing has landed for kStallAfter it
// says "stalled for N s" instead of rate and ETA. Pure: the caller passes
// the time, so tests drive it with a fake clock.
//
// Thread-compatible.
class ProgressMeter {
 public:
  static constexpr absl::Duration kRateWindow = absl::Seconds(3);
  static constexpr absl::Duration kStallAfter = absl::Milliseconds(500);

  ProgressMeter(uint64_t total, absl::Time start);

  // Records that `done` bytes (never fewer than before) are done at `now`.
  void Record(uint64_t done, absl::Time now);

  // True once `done` reached the total.
  bool complete() const { return done_ >= total_; }

  // The line at `now` (no terminal control characters), e.g.
  //   LABEL [#######.......]  50%  15.0/30.0 MiB  812.4 Mbit/s  0:03 elapsed  ETA 0:04
  //   LABEL [#######.......]  50%  15.0/30.0 MiB  stalled for 2.5 s  0:06 elapsed
  // and once complete the average rate:
  //   LABEL [##############] 100%  30.0/30.0 MiB  801.0 Mbit/s average  0:07 elapsed
  std::string Line(const std::string& label, absl::Time now) const;

 private:
  // Bytes per second over the window ending at `now`.
  double RecentRate(absl::Time now) const;

  const uint64_t total_;
  const absl::Time start_;
  uint64_t done_ = 0;
  absl::Time last_progress_;
  // (time, done) of each change within the last kRateWindow, oldest first,
  // plus the last one before it.
  std::deque<std::pair<absl::Time, uint64_t>> samples_;
};

// A one-line progress bar (ProgressMeter) on a terminal: redrawn when
// progress is reported (at most ten times a second) and by its own thread
// every kRedraw, so a stall shows while nothing lands. Draws only when `fd`
// is a terminal; ends the line when complete or destroyed.
//
// Thread-safe: Update may be called from any thread.
class ProgressBar {
 public:
  static constexpr absl::Duration kRedraw = absl::Milliseconds(250);

  ProgressBar(std::string label, uint64_t total, int fd = STDERR_FILENO);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Reports `done` bytes.
  void Update(uint64_t done);

 private:
  void DrawLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RedrawLoop();

  const std::string label_;
  const int fd_;
  const bool enabled_;
  absl::Mutex mu_;
  ProgressMeter meter_ ABSL_GUARDED_BY(mu_);
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool line_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread redraw_;  // runs RedrawLoop while enabled_
};

// JSON string literal of `s` (quotes, backslashes and control characters
// escaped).
inline std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace canopy::examples

#endif  // CANOPY_CLIENT_SDK_EXAMPLES_PROGRESS_H_
