#ifndef CANOPY_CLIENT_SDK_PYTHON_SRC_BUFFERS_H_
#define CANOPY_CLIENT_SDK_PYTHON_SRC_BUFFERS_H_

#include <pybind11/pybind11.h>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace canopy::python {

// A contiguous buffer-protocol view of a Python object, released with the
// view. REQUIRES: the GIL when made and destroyed.
class BufferView {
 public:
  // Raises canopy.InvalidArgument naming `what` when `obj` has no
  // contiguous buffer, or (writable) only a read-only one.
  BufferView(pybind11::handle obj, bool writable, const char* what);
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;
  ~BufferView();

  absl::Span<char> span() { return {static_cast<char*>(view_.buf), size()}; }
  absl::string_view bytes() const {
    return {static_cast<const char*>(view_.buf), size()};
  }
  size_t size() const { return static_cast<size_t>(view_.len); }
  char* data() { return static_cast<char*>(view_.buf); }

 private:
  Py_buffer view_{};
};

}  // namespace canopy::python

#endif  // CANOPY_CLIENT_SDK_PYTHON_SRC_BUFFERS_H_
