#ifndef CANOPY_OPS_HEALTH_H_
#define CANOPY_OPS_HEALTH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/address.h"
#include "grpcpp/server.h"

namespace canopy::ops {

// The standard gRPC health checking protocol (grpc.health.v1.Health: Check
// and Watch), served by gRPC's built-in health service on the program's own
// gRPC port. Kubernetes `grpc:` probes query it; "" is the whole server.
//
// Thread-safe.
class GrpcHealth {
 public:
  // Turns the built-in service on for every server built afterwards.
  // REQUIRES: called before the grpc::ServerBuilder is created.
  static void Enable();

  // The health status of `server`. Every status starts NOT_SERVING (gRPC's
  // own default for "" is SERVING; it is overridden here at once).
  // REQUIRES: `server` was built after Enable() and outlives this object.
  explicit GrpcHealth(grpc::Server& server);
  // The same statuses on `server` and on `mirror`, a server that carries
  // nothing but health (a plaintext port for the kubelet's probes when
  // `server` wants mutual TLS). REQUIRES: as above, for both.
  GrpcHealth(grpc::Server& server, grpc::Server& mirror);
  GrpcHealth(const GrpcHealth&) = delete;
  GrpcHealth& operator=(const GrpcHealth&) = delete;

  // Sets the status of `service` ("" = the whole server): SERVING or
  // NOT_SERVING. A service never set answers NOT_FOUND.
  void SetServing(const std::string& service, bool serving);

  // The server is going away: every service reports NOT_SERVING from now
  // on and later SetServing calls are ignored.
  void Shutdown();

 private:
  grpc::HealthCheckServiceInterface* const service_;
  grpc::HealthCheckServiceInterface* const mirror_ = nullptr;
};

// Starts a server that carries grpc.health.v1 and nothing else, in plaintext
// on `address` (port 0 = any free port), and sets `*bound` to where it
// listens: the kubelet's gRPC probes reach it while the program's own port
// wants mutual TLS (--health-listen). Pass it to GrpcHealth as the mirror.
// REQUIRES: GrpcHealth::Enable() was called.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthOnlyServer(const HostPort& address,
                                                                    HostPort* bound);

}  // namespace canopy::ops

#endif  // CANOPY_OPS_HEALTH_H_
