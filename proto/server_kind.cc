#include "proto/server_kind.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "canopy/v1/node.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace canopy {
namespace {

constexpr auto kAskTimeout = std::chrono::seconds(1);

const char* ServiceOf(CanopyServer kind) {
  return kind == CanopyServer::kController ? v1::Controller::service_full_name()
                                           : v1::Node::service_full_name();
}

const char* NameOf(CanopyServer kind) {
  return kind == CanopyServer::kController ? "controller" : "node";
}

// True if the server's health service knows `service` (serving or not).
bool Knows(grpc::health::v1::Health::Stub& health, CanopyServer kind) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kAskTimeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(ServiceOf(kind));
  grpc::health::v1::HealthCheckResponse response;
  return health.Check(&context, request, &response).ok();
}

}  // namespace

absl::Status ExplainWrongServer(const absl::Status& status,
                                const std::shared_ptr<grpc::ChannelInterface>& channel,
                                absl::string_view address, CanopyServer expected) {
  if (!absl::IsUnimplemented(status)) return status;
  const CanopyServer other =
      expected == CanopyServer::kController ? CanopyServer::kNode : CanopyServer::kController;
  auto health = grpc::health::v1::Health::NewStub(channel);
  if (Knows(*health, other)) {
    return absl::UnimplementedError(
        absl::StrCat(address, " is a Canopy ", NameOf(other), ", not a ", NameOf(expected)));
  }
  if (Knows(*health, expected)) return status;  // a Canopy server of another version
  return absl::UnimplementedError(absl::StrCat(address, " is not a Canopy ", NameOf(expected),
                                               ": it serves neither ", ServiceOf(expected), " nor ",
                                               ServiceOf(other)));
}

}  // namespace canopy
