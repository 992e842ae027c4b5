#include "tests/testing/poll.h"

#include "absl/time/clock.h"

namespace canopy::testing {

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout, absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);  // bounded by the deadline
  }
}

}  // namespace canopy::testing
