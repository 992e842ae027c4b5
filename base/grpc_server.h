#ifndef CANOPY_BASE_GRPC_SERVER_H_
#define CANOPY_BASE_GRPC_SERVER_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "base/address.h"
#include "base/tls_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace canopy {

// A started gRPC server and the address it listens on.
struct ListeningServer {
  std::unique_ptr<grpc::Server> server;
  // The address given, with the real port (port 0 = the one chosen).
  HostPort bound;
};

// Builds and starts the server of `builder` listening on `address` with
// mutual TLS from `tls` (else plaintext), and nobody else: gRPC's
// SO_REUSEPORT is turned off, so an address another socket listens on is
// refused instead of shared (two servers on one port would each get a
// share of the connections). Returns Unavailable "cannot listen on
// HOST:PORT: Address already in use" (or the reason the address cannot be
// bound), checked before gRPC starts.
// REQUIRES: the services are registered on `builder`.
absl::StatusOr<ListeningServer> StartExclusiveServer(grpc::ServerBuilder& builder,
                                                     const HostPort& address,
                                                     const std::optional<TlsPem>& tls);

// OK if a TCP listener could bind `address` now (port 0: always). Else
// Unavailable "cannot listen on HOST:PORT: REASON", e.g. another process
// listens there. Address reuse (SO_REUSEADDR) is on, as on every Canopy
// listener, so connections of a previous run in TIME_WAIT do not count.
absl::Status CheckCanListen(const HostPort& address);

}  // namespace canopy

#endif  // CANOPY_BASE_GRPC_SERVER_H_
