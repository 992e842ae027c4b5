#ifndef CANOPY_BENCH_ELAPSED_H_
#define CANOPY_BENCH_ELAPSED_H_

#include <chrono>

namespace canopy::bench {

// Milliseconds of the steady clock since `start`: the benchmarks' timer.
inline double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_ELAPSED_H_
