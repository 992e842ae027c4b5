#include "client-sdk/examples/progress.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace canopy::examples {
namespace {

constexpr int kBarWidth = 30;

// "M:SS", or "H:MM:SS" from an hour on.
std::string Clock(absl::Duration d) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

ProgressMeter::ProgressMeter(uint64_t total, absl::Time start)
    : total_(total), start_(start), last_progress_(start) {}

void ProgressMeter::Record(uint64_t done, absl::Time now) {
  if (done <= done_) return;
  done_ = std::min(done, total_);
  last_progress_ = now;
  samples_.emplace_back(now, done_);
  // Keep the last sample at or before the window's start: the window's base.
  while (samples_.size() >= 2 && samples_[1].first <= now - kRateWindow) samples_.pop_front();
}

double ProgressMeter::RecentRate(absl::Time now) const {
  const absl::Time from = std::max(start_, now - kRateWindow);
  uint64_t base = 0;
  for (const auto& [t, done] : samples_) {
    if (t > from) break;
    base = done;
  }
  const double secs = absl::ToDoubleSeconds(now - from);
  return secs > 0 ? static_cast<double>(done_ - base) / secs : 0;
}

std::string ProgressMeter::Line(const std::string& label, absl::Time now) const {
  const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / total_;
  const int filled = static_cast<int>(kBarWidth * fraction);
  std::string line = absl::StrFormat("%s [%s%s] %3d%%  %.1f/%.1f MiB  ", label,
                                     std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                                     static_cast<int>(total_ == 0 ? 100 : done_ * 100 / total_),
                                     done_ / 1048576.0, total_ / 1048576.0);
  const absl::Duration elapsed = now - start_;
  if (complete()) {
    const double secs = std::max(1e-6, absl::ToDoubleSeconds(last_progress_ - start_));
    absl::StrAppendFormat(&line, "%.1f Mbit/s average  %s elapsed", done_ * 8 / secs / 1e6,
                          Clock(last_progress_ - start_));
    return line;
  }
  const absl::Duration quiet = now - last_progress_;
  if (quiet >= kStallAfter) {
    const double secs = absl::ToDoubleSeconds(quiet);
    absl::StrAppendFormat(
        &line, secs < 10 ? "stalled for %.1f s  %s elapsed" : "stalled for %.0f s  %s elapsed",
        secs, Clock(elapsed));
    return line;
  }
  const double rate = RecentRate(now);
  absl::StrAppendFormat(&line, "%.1f Mbit/s  %s elapsed  ETA ", rate * 8 / 1e6, Clock(elapsed));
  if (rate > 0) {
    line += Clock(absl::Seconds(static_cast<double>(total_ - done_) / rate));
  } else {
    line += "?";
  }
  return line;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, int fd)
    : label_(std::move(label)), fd_(fd), enabled_(isatty(fd) == 1), meter_(total, absl::Now()) {
  if (enabled_) redraw_ = std::thread([this] { RedrawLoop(); });
}

ProgressBar::~ProgressBar() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (redraw_.joinable()) redraw_.join();
  absl::MutexLock lock(&mu_);
  if (enabled_ && !line_ended_ && last_draw_ != absl::InfinitePast()) {
    (void)!write(fd_, "\n", 1);
  }
}

void ProgressBar::Update(uint64_t done) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  meter_.Record(done, now);
  if (!enabled_ || line_ended_) return;
  if (meter_.complete() || now - last_draw_ >= absl::Milliseconds(100)) DrawLocked(now);
}

void ProgressBar::DrawLocked(absl::Time now) {
  // Carriage return, the line, then erase what a longer line left.
  std::string text = "\r" + meter_.Line(label_, now) + "\x1b[K";
  if (meter_.complete()) {
    text += '\n';
    line_ended_ = true;
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd_, text.data() + written, text.size() - written);
    if (n <= 0) break;  // a terminal that went away: drawing is best effort
    written += static_cast<size_t>(n);
  }
  last_draw_ = now;
}

void ProgressBar::RedrawLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_ && !line_ended_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), kRedraw);
    if (stop_ || line_ended_) break;
    DrawLocked(absl::Now());
  }
}

}  // namespace canopy::examples
