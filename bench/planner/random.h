#ifndef CANOPY_BENCH_PLANNER_RANDOM_H_
#define CANOPY_BENCH_PLANNER_RANDOM_H_

#include <cstdint>

namespace canopy::bench {

// A small seeded generator (splitmix64) whose draws are the same on every
// platform and standard library, so a run is reproducible from --seed.
//
// Thread-compatible.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  // The next 64 random bits.
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n) { return Next() % n; }

  // Uniform in [0, 1).
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// A deterministic value in [0, 1) for the pair (a, b) under `seed`; the same
// for (b, a).
inline double PairNoise(uint64_t seed, uint64_t a, uint64_t b) {
  if (a > b) {
    const uint64_t t = a;
    a = b;
    b = t;
  }
  Random r(seed ^ (a * 0x100000001B3ull) ^ (b << 32) ^ b);
  return r.UniformDouble();
}

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_RANDOM_H_
