// Compiled as C++23 (wire/CMakeLists.txt) for std::string::resize_and_overwrite;
// the rest of the project is C++20 and shares the same std::string ABI.
#include "wire/string_resize.h"

namespace canopy::wire {

void ResizeForOverwrite(std::string& s, size_t n) {
#if defined(__cpp_lib_string_resize_and_overwrite)
  // Return `n`, not the size the callback is given: GCC 12's implementation
  // passes the grown capacity there when it reallocates.
  s.resize_and_overwrite(n, [n](char*, size_t) { return n; });
#else
  s.resize(n);
#endif
}

}  // namespace canopy::wire
