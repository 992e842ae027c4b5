#ifndef CANOPY_WIRE_ENDPOINT_H_
#define CANOPY_WIRE_ENDPOINT_H_

#include <cstdint>
#include <string>

namespace canopy::wire {

// A TCP endpoint: a host name or IP address and a port.
struct Endpoint {
  std::string host;
  uint16_t port = 0;

  // "host:port", with an IPv6 host in brackets.
  std::string ToString() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_ENDPOINT_H_
