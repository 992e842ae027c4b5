#ifndef CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_
#define CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "controller/controller_core.h"
#include "controller/edge_rates.h"
#include "controller/report_dispatcher.h"
#include "controller/session_outbox.h"

namespace canopy::controller {

// Whether the service checks who calls it.
enum class CallerChecks {
  // Plaintext: anyone who reaches the port may call anything.
  kNone,
  // Mutual TLS: the verified client certificate's subject (OU = role, CN =
  // name; base/tls_credentials.h) decides. Attach needs OU=node with CN =
  // the hello's node id; SetPolicy needs OU=operator; the read-only calls
  // need OU=operator or OU=node. Anything else gets PERMISSION_DENIED.
  kCertificateRoles,
};

// The Controller gRPC service (controller.proto): refuses every call while
// this controller does not lead (naming the leader), checks the caller's
// identity (if asked to), validates each request, calls ControllerCore,
// maps its status.
//
// Attach runs on gRPC's callback API: a node's stream is read and written
// by a reactor that never blocks. What the controller sends a node waits in
// the session's bounded SessionOutbox; what the node reports goes through a
// ReportDispatcher to the core, so no gRPC thread waits for planning and a
// node that stops reading holds up nobody but itself. Every report read
// counts for the node's liveness, whatever it reads.
//
// Thread-safe (gRPC runs the other calls on its own threads).
class ControllerService final
    : public v1::Controller::WithCallbackMethod_Attach<v1::Controller::Service> {
 public:
  // `on_refused`, if set, is told the kind of each node report refused as
  // malformed ("hello", "membership", "sources", "rtts", "other") or sent
  // under the wrong identity ("identity"), for metrics; it must be
  // thread-safe. `outbox_limits` bound each node's queued instructions.
  explicit ControllerService(ControllerCore& core,
                             std::function<void(const char*)> on_refused = nullptr,
                             CallerChecks checks = CallerChecks::kNone,
                             SessionOutbox::Limits outbox_limits = {});
  ~ControllerService() override;

  // Hands no more node reports to the core (the server is shutting down).
  void Stop();

  grpc::ServerBidiReactor<v1::NodeReport, v1::NodeInstruction>* Attach(
      grpc::CallbackServerContext* context) override;
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
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::ControllerStatus* response) override;
  grpc::Status GetTop(grpc::ServerContext* context, const v1::GetTopRequest* request,
                      v1::TopResponse* response) override;

 private:
  // OK if callers are not checked or this one's certificate has one of
  // `roles`; else PERMISSION_DENIED (UNAUTHENTICATED without a certificate)
  // naming `action`. Sets `*caller` (if given) to the caller's name: the
  // certificate's CN, or "(unauthenticated)" when callers are not checked.
  grpc::Status Authorize(const grpc::ServerContextBase& context,
                         std::initializer_list<absl::string_view> roles, absl::string_view action,
                         std::string* caller = nullptr) const;
  // OK while this controller leads; else the follower's answer naming the
  // leader (base/leader_redirect.h).
  grpc::Status RequireLeader(grpc::ServerContextBase& context) const;
  // Authorize for the read-only calls (operators and nodes).
  grpc::Status AuthorizeInspection(const grpc::ServerContextBase& context,
                                   absl::string_view action) const;

  // Node id → upload capacity of every attached node that declared one.
  std::map<std::string, uint64_t> UploadCapacities() const;
  // Adds to the trees what the core does not keep: the nodes' upload
  // capacities (`upload`, from UploadCapacities) and, if asked for, their
  // traffic (EdgeRates).
  void Decorate(v1::GetTreeResponse& response, const std::map<std::string, uint64_t>& upload,
                bool traffic) const;

  class AttachReactor;

  ControllerCore& core_;
  const std::function<void(const char*)> on_refused_;
  const CallerChecks checks_;
  const SessionOutbox::Limits outbox_limits_;
  EdgeRates edge_rates_;
  ReportDispatcher dispatcher_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_CONTROLLER_SERVICE_H_
