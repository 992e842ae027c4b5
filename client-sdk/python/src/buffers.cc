#include "client-sdk/python/src/buffers.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client-sdk/python/src/status.h"

namespace canopy::python {

BufferView::BufferView(pybind11::handle obj, bool writable, const char* what) {
  const int flags = PyBUF_ANY_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj.ptr(), &view_, flags) == 0) return;
  PyErr_Clear();
  const std::string type = Py_TYPE(obj.ptr())->tp_name;
  Py_buffer probe;
  if (writable && PyObject_GetBuffer(obj.ptr(), &probe, PyBUF_ANY_CONTIGUOUS) == 0) {
    PyBuffer_Release(&probe);
    Raise(absl::InvalidArgumentError(absl::StrCat(
        what, " is read-only (", type, "); pass a writable buffer such as a bytearray, a "
        "numpy array or a CPU tensor")));
  }
  PyErr_Clear();
  Raise(absl::InvalidArgumentError(absl::StrCat(
      what, " (", type, ") is not a contiguous buffer (bytes-like object, numpy array, mmap)")));
}

BufferView::~BufferView() { PyBuffer_Release(&view_); }

}  // namespace canopy::python
