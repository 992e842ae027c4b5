#ifndef CANOPY_CLIENT_SDK_PYTHON_SRC_CLIENTS_H_
#define CANOPY_CLIENT_SDK_PYTHON_SRC_CLIENTS_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "client-sdk/python/src/interrupt.h"

namespace canopy::python {

// (ca, cert, key) PEM file paths, as canopy.TlsFiles passes them.
using TlsTuple = std::optional<std::tuple<std::string, std::string, std::string>>;

// Seconds from Python (None = forever) as a Duration.
absl::Duration Timeout(std::optional<double> seconds);

// A publisher and the interrupt its blocking calls honour.
struct PyPublisher {
  std::shared_ptr<Interrupt> interrupt = std::make_shared<Interrupt>();
  std::unique_ptr<Publisher> publisher;  // an InterruptiblePublisher
};

// A subscription and the interrupt its blocking calls honour.
struct PySubscriber {
  std::shared_ptr<Interrupt> interrupt = std::make_shared<Interrupt>();
  std::unique_ptr<Subscriber> subscriber;  // an InterruptibleSubscriber
};

PublisherOptions MakePublisherOptions(const std::string& node, const std::string& group,
                                      const std::string& source, const std::string& transport,
                                      const TlsTuple& tls);

// Registers Publisher and Subscriber (module docs: canopy/client.py).
void BindClients(pybind11::module_& m);
// send_object, send_file, ObjectReceiver (canopy/objects.py).
void BindObjects(pybind11::module_& m);
// VersionPublisher, VersionReceiver (canopy/versions.py).
void BindVersions(pybind11::module_& m);

}  // namespace canopy::python

#endif  // CANOPY_CLIENT_SDK_PYTHON_SRC_CLIENTS_H_
