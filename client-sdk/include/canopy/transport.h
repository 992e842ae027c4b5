#ifndef CANOPY_CLIENT_SDK_TRANSPORT_H_
#define CANOPY_CLIENT_SDK_TRANSPORT_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace canopy {

// How messages travel between a client and its local node. Joining,
// leaving and errors always use the node's gRPC service.
enum class Transport {
  // Shared memory when the node runs on this host and offers it, else the
  // TCP client link. The default.
  kAuto,
  // Wire frames in shared-memory rings the node hands over on its host
  // (docs/wire-format.md, "Local links"): no kernel copy per message.
  // FailedPrecondition if the node offers none or is not on this host
  // (another host, another network namespace).
  kSharedMemory,
  // Wire frames on a TCP link the node offers for this Publisher or
  // Subscriber (docs/wire-format.md, "Client links"): no per-message
  // encoding, header and payload written together.
  kClientLink,
  // Inside the gRPC stream: only the node's gRPC port is needed, for
  // clients behind a firewall that allows nothing else.
  kGrpcStream,
};

// The transport named "auto", "shm", "link" or "grpc" (as the command-line
// tools' --transport takes it); nullopt for any other name.
std::optional<Transport> ParseTransport(absl::string_view name);

// The name ParseTransport() takes for `transport`.
absl::string_view TransportName(Transport transport);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_TRANSPORT_H_
