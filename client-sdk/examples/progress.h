// Progress and summary output shared by canopy-send and canopy-recv.

#ifndef CANOPY_CLIENT_SDK_EXAMPLES_PROGRESS_H_
#define CANOPY_CLIENT_SDK_EXAMPLES_PROGRESS_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace canopy::examples {

// A one-line progress bar on stderr (bytes, rate, ETA), redrawn at most
// ten times a second, only when stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total)
      : label_(std::move(label)),
        total_(total),
        start_(absl::Now()),
        enabled_(isatty(STDERR_FILENO) == 1) {}

  void Update(uint64_t done) {
    if (!enabled_) return;
    const absl::Time now = absl::Now();
    if (done < total_ && now - last_draw_ < absl::Milliseconds(100)) return;
    last_draw_ = now;
    const double secs = std::max(1e-6, absl::ToDoubleSeconds(now - start_));
    const double rate = static_cast<double>(done) / secs;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    const int width = 30;
    const int filled = total_ == 0 ? width : static_cast<int>(width * done / total_);
    std::fprintf(stderr, "\r%s [%s%s] %.1f/%.1f MiB  %.1f Mbit/s  ETA %.0fs ", label_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 done / 1048576.0, total_ / 1048576.0, rate * 8 / 1e6, eta);
    if (done >= total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  const std::string label_;
  const uint64_t total_;
  const absl::Time start_;
  const bool enabled_;
  absl::Time last_draw_ = absl::InfinitePast();
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
