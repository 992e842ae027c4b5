#ifndef CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_
#define CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_

#include <functional>

#include "canopy/v1/controller.grpc.pb.h"
#include "controller/controller_core.h"

namespace canopy::controller {

// The Controller gRPC service (controller.proto): validates each request,
// calls ControllerCore, maps its status.
//
// Thread-safe (gRPC runs each call on its own thread).
class ControllerService final : public v1::Controller::Service {
 public:
  // `on_refused`, if set, is told the kind of each node report refused as
  // malformed ("hello", "membership", "sources", "rtts", "other"), for
  // metrics; it must be thread-safe.
  explicit ControllerService(ControllerCore& core,
                             std::function<void(const char*)> on_refused = nullptr)
      : core_(core), on_refused_(std::move(on_refused)) {}

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::NodeInstruction, v1::NodeReport>* stream) override;
  grpc::Status ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override;
  grpc::Status ListGroups(grpc::ServerContext* context, const v1::ListGroupsRequest* request,
                          v1::ListGroupsResponse* response) override;
  grpc::Status GetTree(grpc::ServerContext* context, const v1::GetTreeRequest* request,
                       v1::GetTreeResponse* response) override;
  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::GroupPolicy* response) override;
  grpc::Status SetPolicy(grpc::ServerContext* context, const v1::GroupPolicy* request,
                         v1::GroupPolicy* response) override;
  grpc::Status ListMembers(grpc::ServerContext* context, const v1::ListMembersRequest* request,
                           v1::ListMembersResponse* response) override;
  grpc::Status WatchTree(grpc::ServerContext* context, const v1::GetTreeRequest* request,
                         grpc::ServerWriter<v1::GetTreeResponse>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::ControllerStats* response) override;

 private:
  ControllerCore& core_;
  const std::function<void(const char*)> on_refused_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_
