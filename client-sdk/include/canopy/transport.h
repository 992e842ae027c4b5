#ifndef CANOPY_CLIENT_SDK_TRANSPORT_H_
#define CANOPY_CLIENT_SDK_TRANSPORT_H_

namespace canopy {

// How messages travel between a client and its local node. Joining,
// leaving and errors always use the node's gRPC service.
enum class Transport {
  // Wire frames on a TCP link the node offers for this Publisher or
  // Subscriber (docs/wire-format.md, "Client links"): no per-message
  // encoding, header and payload written together. The default.
  kClientLink,
  // Inside the gRPC stream: only the node's gRPC port is needed, for
  // clients behind a firewall that allows nothing else.
  kGrpcStream,
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_TRANSPORT_H_
