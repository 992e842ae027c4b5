// The _canopy extension: the C++ client SDK (client-sdk/include/canopy) for
// the pure-Python package canopy, which documents and wraps it.

#include <pybind11/pybind11.h>

#include "client-sdk/python/src/clients.h"

PYBIND11_MODULE(_canopy, m) {
  m.doc() = "Canopy client SDK bindings; use the canopy package, which wraps them.";
  canopy::python::BindClients(m);
  canopy::python::BindObjects(m);
  canopy::python::BindVersions(m);
}
