#ifndef CANOPY_BENCH_PLANNER_LATENCY_MODEL_H_
#define CANOPY_BENCH_PLANNER_LATENCY_MODEL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bench/planner/random.h"

namespace canopy::bench {

// A synthetic latency matrix: nodes at random points of a unit square, and
// the RTT of a pair is 100 µs + their distance scaled to 19,900 µs for the
// square's diagonal, times a per-pair detour factor in [1, 1.8) (routes are
// not straight, so relaying sometimes beats the direct link), capped at
// 20,000 µs. The detours break the triangle inequality, as real Internet
// paths do, so no coordinate system fits it exactly.
//
// Thread-compatible.
class LatencyModel {
 public:
  static constexpr double kMinRttUs = 100;
  static constexpr double kDiagonalRttUs = 19900;
  static constexpr double kMaxRttUs = 20000;
  static constexpr double kMaxDetour = 0.8;  // detour factor in [1, 1 + kMaxDetour)

  // Places `nodes` nodes; the same seed gives the same matrix.
  LatencyModel(int nodes, uint64_t seed) : seed_(seed) {
    Random random(seed);
    for (int i = 0; i < nodes; ++i) {
      x_.push_back(random.UniformDouble());
      y_.push_back(random.UniformDouble());
    }
  }

  int size() const { return static_cast<int>(x_.size()); }

  // The RTT of the pair in µs; the same both ways. REQUIRES: a, b < size().
  uint64_t RttUs(int a, int b) const {
    const double distance = std::hypot(x_[a] - x_[b], y_[a] - y_[b]);
    const double detour =
        1.0 + kMaxDetour * PairNoise(seed_, static_cast<uint64_t>(a), static_cast<uint64_t>(b));
    const double rtt = kMinRttUs + distance / std::sqrt(2.0) * kDiagonalRttUs * detour;
    return static_cast<uint64_t>(std::min(rtt, kMaxRttUs));
  }

 private:
  uint64_t seed_;
  std::vector<double> x_, y_;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_LATENCY_MODEL_H_
