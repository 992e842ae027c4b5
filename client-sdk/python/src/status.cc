#include "client-sdk/python/src/status.h"

#include <string>

namespace py = pybind11;

namespace canopy::python {

void Raise(const absl::Status& status) {
  py::object error = py::module_::import("canopy.errors")
                         .attr("from_status")(static_cast<int>(status.code()),
                                              std::string(status.message()));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

}  // namespace canopy::python
