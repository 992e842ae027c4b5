#include "controller/controller_service.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/policy_validation.h"
#include "controller/report_validation.h"
#include "proto/address.h"
#include "proto/grpc_status.h"
#include "proto/tls_credentials.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

// NodeChannel over one Attach stream. Writes are serialised; Close cancels
// the call, which ends the handler's read loop.
class StreamChannel final : public NodeChannel {
 public:
  StreamChannel(grpc::ServerContext* context,
                grpc::ServerReaderWriter<v1::NodeInstruction, v1::NodeReport>* stream)
      : context_(context), stream_(stream) {}

  bool Send(const v1::NodeInstruction& instruction) override {
    absl::MutexLock lock(&mu_);
    return stream_->Write(instruction);
  }
  void Close() override { context_->TryCancel(); }

 private:
  grpc::ServerContext* const context_;
  absl::Mutex mu_;
  grpc::ServerReaderWriter<v1::NodeInstruction, v1::NodeReport>* const stream_
      ABSL_PT_GUARDED_BY(mu_);
};

// How long WatchTree waits for a change before checking for cancellation.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);

}  // namespace

grpc::Status ControllerService::Authorize(const grpc::ServerContext& context,
                                          std::initializer_list<absl::string_view> roles,
                                          absl::string_view action, std::string* caller) const {
  if (checks_ == CallerChecks::kNone) {
    if (caller != nullptr) *caller = "(unauthenticated)";
    return grpc::Status::OK;
  }
  absl::StatusOr<CertificateSubject> peer = AuthenticatedPeer(context);
  if (!peer.ok()) return ToGrpc(peer.status());
  if (absl::Status s = RequireRole(*peer, roles, action); !s.ok()) return ToGrpc(s);
  if (caller != nullptr) *caller = peer->common_name;
  return grpc::Status::OK;
}

grpc::Status ControllerService::AuthorizeInspection(const grpc::ServerContext& context,
                                                    absl::string_view action) const {
  return Authorize(context, {kRoleOperator, kRoleNode}, action);
}

grpc::Status ControllerService::Attach(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::NodeInstruction, v1::NodeReport>* stream) {
  v1::NodeReport report;
  if (!stream->Read(&report)) return grpc::Status::OK;
  if (!report.has_hello()) {
    if (on_refused_) on_refused_("hello");
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first report on an Attach stream must be a hello");
  }
  if (absl::Status s = ValidateHello(report.hello()); !s.ok()) {
    if (on_refused_) on_refused_("hello");
    return ToGrpc(s);
  }
  // A node attaches only as the node its certificate names.
  std::string certified;
  grpc::Status identity = Authorize(*context, {kRoleNode}, "Attach", &certified);
  if (identity.ok() && checks_ != CallerChecks::kNone && certified != report.hello().node_id()) {
    identity =
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                     absl::StrCat("a node with the certificate of node '", certified,
                                  "' may not attach as node '", report.hello().node_id(), "'"));
  }
  if (!identity.ok()) {
    spdlog::warn("refused node {} from {}: {}", report.hello().node_id(), context->peer(),
                 identity.error_message());
    if (on_refused_) on_refused_("identity");
    return identity;
  }
  StreamChannel channel(context, stream);
  absl::StatusOr<uint64_t> attached = core_.Attach(report.hello(), &channel, absl::Now());
  if (!attached.ok()) {
    spdlog::warn("refused a node: {}", attached.status().ToString());
    return ToGrpc(attached.status());
  }
  const uint64_t session = *attached;
  grpc::Status result = grpc::Status::OK;
  while (stream->Read(&report)) {
    switch (report.body_case()) {
      case v1::NodeReport::kMembership:
        result = ToGrpc(ValidateMembership(report.membership()));
        if (result.ok()) core_.OnMembership(session, report.membership(), absl::Now());
        break;
      case v1::NodeReport::kSources:
        result = ToGrpc(ValidateSources(report.sources()));
        if (result.ok()) core_.OnSources(session, report.sources(), absl::Now());
        break;
      case v1::NodeReport::kRtts:
        result = ToGrpc(ValidateRtts(report.rtts()));
        if (result.ok()) core_.OnRtts(session, report.rtts(), absl::Now());
        break;
      case v1::NodeReport::kMulticastPeers:
        result = ToGrpc(ValidateMulticastPeers(report.multicast_peers()));
        if (result.ok()) core_.OnMulticastPeers(session, report.multicast_peers(), absl::Now());
        break;
      case v1::NodeReport::kHeartbeat:
        core_.OnHeartbeat(session, report.heartbeat(), absl::Now());
        break;
      case v1::NodeReport::kHello:
        result =
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello may only be the first report");
        break;
      case v1::NodeReport::BODY_NOT_SET:
        result = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty report");
        break;
    }
    if (!result.ok()) {
      spdlog::warn("closing a node's session: {}", result.error_message());
      if (on_refused_) {
        switch (report.body_case()) {
          case v1::NodeReport::kMembership:
            on_refused_("membership");
            break;
          case v1::NodeReport::kSources:
            on_refused_("sources");
            break;
          case v1::NodeReport::kRtts:
            on_refused_("rtts");
            break;
          default:
            on_refused_("other");
        }
      }
      break;
    }
  }
  core_.Detach(session);
  return result;
}

grpc::Status ControllerService::ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest*,
                                          v1::ListNodesResponse* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "ListNodes"); !s.ok()) return s;
  *response = core_.ListNodes();
  return grpc::Status::OK;
}

grpc::Status ControllerService::ListGroups(grpc::ServerContext* context,
                                           const v1::ListGroupsRequest*,
                                           v1::ListGroupsResponse* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "ListGroups"); !s.ok()) return s;
  absl::StatusOr<v1::ListGroupsResponse> groups = core_.ListGroups();
  if (!groups.ok()) return ToGrpc(groups.status());
  *response = *std::move(groups);
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetTree(grpc::ServerContext* context,
                                        const v1::GetTreeRequest* request,
                                        v1::GetTreeResponse* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "GetTree"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  if (!request->source().empty()) {
    if (absl::Status s = ValidateSourceId(request->source()); !s.ok()) return ToGrpc(s);
  }
  absl::StatusOr<v1::GetTreeResponse> tree = core_.GetTree(*request);
  if (!tree.ok()) return ToGrpc(tree.status());
  *response = *std::move(tree);
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetPolicy(grpc::ServerContext* context,
                                          const v1::GetPolicyRequest* request,
                                          v1::GroupPolicy* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "GetPolicy"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  absl::StatusOr<v1::GroupPolicy> policy = core_.GetPolicy(request->group());
  if (!policy.ok()) return ToGrpc(policy.status());
  *response = *std::move(policy);
  return grpc::Status::OK;
}

grpc::Status ControllerService::SetPolicy(grpc::ServerContext* context,
                                          const v1::GroupPolicy* request,
                                          v1::GroupPolicy* response) {
  std::string operator_name;
  if (grpc::Status s = Authorize(*context, {kRoleOperator}, "SetPolicy", &operator_name); !s.ok()) {
    spdlog::warn("refused a policy change for group {} from {}: {}", request->group(),
                 context->peer(), s.error_message());
    return s;
  }
  if (absl::Status s = ValidatePolicy(*request); !s.ok()) return ToGrpc(s);
  if (absl::Status s = core_.SetPolicy(*request); !s.ok()) return ToGrpc(s);
  spdlog::info("operator {} set the policy of group {}", operator_name, request->group());
  *response = *request;
  return grpc::Status::OK;
}

grpc::Status ControllerService::ListMembers(grpc::ServerContext* context,
                                            const v1::ListMembersRequest* request,
                                            v1::ListMembersResponse* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "ListMembers"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  absl::StatusOr<v1::ListMembersResponse> members = core_.ListMembers(request->group());
  if (!members.ok()) return ToGrpc(members.status());
  *response = *std::move(members);
  return grpc::Status::OK;
}

grpc::Status ControllerService::WatchTree(grpc::ServerContext* context,
                                          const v1::GetTreeRequest* request,
                                          grpc::ServerWriter<v1::GetTreeResponse>* writer) {
  if (grpc::Status s = AuthorizeInspection(*context, "WatchTree"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  uint64_t seen = core_.TreeVersion(request->group());
  bool first = true;
  while (!context->IsCancelled()) {
    if (!first) {
      const uint64_t now = core_.WaitForTreeChange(request->group(), seen, kWatchPoll);
      if (now == seen) continue;
      seen = now;
    }
    first = false;
    absl::StatusOr<v1::GetTreeResponse> tree = core_.GetTree(*request);
    v1::GetTreeResponse response;
    if (tree.ok()) {
      response = *std::move(tree);
    } else {
      response.set_group(request->group());  // no trees (yet, or any more)
    }
    if (!writer->Write(response)) break;
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetStats(grpc::ServerContext* context, const v1::GetStatsRequest*,
                                         v1::ControllerStats* response) {
  if (grpc::Status s = AuthorizeInspection(*context, "GetStats"); !s.ok()) return s;
  *response = core_.Stats();
  return grpc::Status::OK;
}

}  // namespace canopy::controller
