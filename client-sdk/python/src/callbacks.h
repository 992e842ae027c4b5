#ifndef CANOPY_CLIENT_SDK_PYTHON_SRC_CALLBACKS_H_
#define CANOPY_CLIENT_SDK_PYTHON_SRC_CALLBACKS_H_

#include <pybind11/pybind11.h>

#include <utility>

#include "client-sdk/python/src/interrupt.h"

namespace canopy::python {

// Calls the Python callable `fn` with `args` from a thread that does not
// hold the GIL (an SDK call in progress). An exception it raises is kept in
// `interrupt`, which then ends the blocking call; later calls are skipped.
template <typename... Args>
void CallPython(const pybind11::object& fn, Interrupt& interrupt, Args&&... args) {
  if (fn.is_none() || interrupt.Check()) return;
  pybind11::gil_scoped_acquire gil;
  try {
    fn(std::forward<Args>(args)...);
  } catch (pybind11::error_already_set& e) {
    interrupt.Fail(e);
  }
}

// Same, for callbacks that build their arguments with the GIL held.
template <typename Make>
void CallPythonWith(Interrupt& interrupt, Make make) {
  if (interrupt.Check()) return;
  pybind11::gil_scoped_acquire gil;
  try {
    make();
  } catch (pybind11::error_already_set& e) {
    interrupt.Fail(e);
  }
}

}  // namespace canopy::python

#endif  // CANOPY_CLIENT_SDK_PYTHON_SRC_CALLBACKS_H_
