#ifndef CANOPY_TESTS_TESTING_POLL_H_
#define CANOPY_TESTS_TESTING_POLL_H_

#include <functional>

#include "absl/time/time.h"

namespace canopy::testing {

// Polls `done` every `interval` until it holds or `timeout` passes; whether
// it held. For what a test can only observe from outside (a metric, a
// listing).
bool PollUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration interval = absl::Milliseconds(50));

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_TESTING_POLL_H_
