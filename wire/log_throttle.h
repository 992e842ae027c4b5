#ifndef CANOPY_WIRE_LOG_THROTTLE_H_
#define CANOPY_WIRE_LOG_THROTTLE_H_

#include <cstdint>

namespace canopy::wire {

// Whether the `nth` (1-based) occurrence of a refusal a peer can trigger at
// will deserves a log line: the first ten do, so an operator sees each
// distinct early cause, then one in a thousand, so a flood does not flood
// the log too. Callers keep the count (usually a metric) and print it.
inline bool WorthALogLine(uint64_t nth) { return nth <= 10 || nth % 1000 == 0; }

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_LOG_THROTTLE_H_
