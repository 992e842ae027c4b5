#ifndef CANOPY_BENCH_RELAY_PERCENTILE_H_
#define CANOPY_BENCH_RELAY_PERCENTILE_H_

#include <algorithm>
#include <cmath>
#include <vector>

namespace canopy::bench {

// The q-quantile (0 ≤ q ≤ 1) of `samples` by nearest rank; 0 when empty.
inline double Percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  const size_t rank = static_cast<size_t>(
      std::clamp(std::ceil(q * static_cast<double>(samples.size())), 1.0,
                 static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + (rank - 1), samples.end());
  return samples[rank - 1];
}

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_PERCENTILE_H_
