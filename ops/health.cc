#include "ops/health.h"

#include <cstdio>
#include <cstdlib>

#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace canopy::ops {
namespace {

grpc::HealthCheckServiceInterface* ServiceOf(grpc::Server& server) {
  grpc::HealthCheckServiceInterface* service = server.GetHealthCheckService();
  if (service == nullptr) {
    // Impossible unless Enable() was forgotten: fail fast.
    std::fprintf(stderr, "grpc health: service not enabled before the server was built\n");
    std::abort();
  }
  return service;
}

}  // namespace

void GrpcHealth::Enable() { grpc::EnableDefaultHealthCheckService(true); }

GrpcHealth::GrpcHealth(grpc::Server& server) : service_(ServiceOf(server)) {
  service_->SetServingStatus("", false);
}

GrpcHealth::GrpcHealth(grpc::Server& server, grpc::Server& mirror)
    : service_(ServiceOf(server)), mirror_(ServiceOf(mirror)) {
  service_->SetServingStatus("", false);
  mirror_->SetServingStatus("", false);
}

void GrpcHealth::SetServing(const std::string& service, bool serving) {
  service_->SetServingStatus(service, serving);
  if (mirror_ != nullptr) mirror_->SetServingStatus(service, serving);
}

void GrpcHealth::Shutdown() {
  service_->Shutdown();
  if (mirror_ != nullptr) mirror_->Shutdown();
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthOnlyServer(const HostPort& address,
                                                                    HostPort* bound) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address.ToString(), grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen on " + address.ToString());
  }
  *bound = HostPort{address.host, static_cast<uint16_t>(port)};
  return server;
}

}  // namespace canopy::ops
