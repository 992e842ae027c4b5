#ifndef CANOPY_WIRE_STRING_RESIZE_H_
#define CANOPY_WIRE_STRING_RESIZE_H_

#include <cstddef>
#include <string>

namespace canopy::wire {

// Resizes `s` to `n` bytes without zero-filling the bytes it adds: their
// values are unspecified until the caller overwrites them (e.g. with recv).
// Saves a memset per received message.
void ResizeForOverwrite(std::string& s, size_t n);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_STRING_RESIZE_H_
