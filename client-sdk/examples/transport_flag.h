#ifndef CANOPY_CLIENT_SDK_EXAMPLES_TRANSPORT_FLAG_H_
#define CANOPY_CLIENT_SDK_EXAMPLES_TRANSPORT_FLAG_H_

#include <string>

#include "CLI/CLI.hpp"
#include "canopy/transport.h"

namespace canopy {

// Adds `--transport auto|shm|link|grpc` (default auto) to a client tool;
// the choice lands in `transport` once the command line is parsed.
inline void AddTransportFlag(CLI::App& app, Transport& transport) {
  app.add_option_function<std::string>(
         "--transport",
         [&transport](const std::string& name) { transport = *ParseTransport(name); },
         "auto: shared memory when the node runs on this host, else a TCP link (default); "
         "shm: shared memory only; link: frames on a TCP link the node offers; "
         "grpc: inside the gRPC stream (only the node's gRPC port needed)")
      ->check(CLI::IsMember({"auto", "shm", "link", "grpc"}))
      ->default_str("auto");
}

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_EXAMPLES_TRANSPORT_FLAG_H_
