#ifndef CANOPY_CLIENT_SDK_PYTHON_SRC_STATUS_H_
#define CANOPY_CLIENT_SDK_PYTHON_SRC_STATUS_H_

#include <pybind11/pybind11.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace canopy::python {

// Raises the canopy.Error subclass for `status`'s code (canopy/errors.py)
// carrying its code and message. REQUIRES: the GIL; !status.ok().
[[noreturn]] void Raise(const absl::Status& status);

// Returns the value or raises its status.
template <typename T>
T ValueOr(absl::StatusOr<T> s) {
  if (!s.ok()) Raise(s.status());
  return *std::move(s);
}
inline void Check(const absl::Status& s) {
  if (!s.ok()) Raise(s);
}

}  // namespace canopy::python

#endif  // CANOPY_CLIENT_SDK_PYTHON_SRC_STATUS_H_
