#ifndef CANOPY_BENCH_RELAY_PACER_H_
#define CANOPY_BENCH_RELAY_PACER_H_

#include <time.h>

#include <cerrno>

#include <cstdint>

namespace canopy::bench {

// Nanoseconds on CLOCK_MONOTONIC; comparable across threads of one process.
inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Open-loop pacing: Wait() returns at start + i/rate for the i-th call
// (sleeping on an absolute deadline, so delays don't accumulate).
//
// Thread-compatible.
class Pacer {
 public:
  explicit Pacer(double rate_per_s)
      : start_(MonotonicNanos()), interval_ns_(1e9 / rate_per_s) {}

  void Wait() {
    const int64_t due = start_ + static_cast<int64_t>(interval_ns_ * static_cast<double>(i_++));
    timespec ts{static_cast<time_t>(due / 1'000'000'000), static_cast<long>(due % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
  }

 private:
  const int64_t start_;
  const double interval_ns_;
  int64_t i_ = 0;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_PACER_H_
