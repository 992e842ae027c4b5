#include "controller/controller_service.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/address.h"
#include "base/build_info.h"
#include "base/grpc_status.h"
#include "base/leader_redirect.h"
#include "base/tls_credentials.h"
#include "controller/policy_validation.h"
#include "controller/report_validation.h"
#include "controller/traffic_top.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

// How long WatchTree waits for a change before checking for cancellation.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);
// How often WatchTree with traffic sends the trees again unchanged.
constexpr absl::Duration kTrafficRefresh = absl::Seconds(1);
// GetTop's default and largest number of links and receivers.
constexpr uint32_t kTopDefault = 10;
constexpr uint32_t kTopMax = 1000;

}  // namespace

grpc::Status ControllerService::Authorize(const grpc::ServerContextBase& context,
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

grpc::Status ControllerService::RequireLeader(grpc::ServerContextBase& context) const {
  const Leadership& leadership = core_.leadership();
  if (leadership.leading()) return grpc::Status::OK;
  return NotLeader(context, leadership.self_address(), leadership.leader_address());
}

grpc::Status ControllerService::AuthorizeInspection(const grpc::ServerContextBase& context,
                                                    absl::string_view action) const {
  return Authorize(context, {kRoleOperator, kRoleNode}, action);
}

// One node's Attach stream. Reads never wait for planning (reports go to
// the dispatcher); writes come from the session's outbox, one at a time.
class ControllerService::AttachReactor final
    : public grpc::ServerBidiReactor<v1::NodeReport, v1::NodeInstruction> {
 public:
  AttachReactor(ControllerService& service, grpc::CallbackServerContext* context)
      : service_(service),
        context_(context),
        outbox_(std::make_shared<SessionOutbox>(service.outbox_limits_)) {
    outbox_->Bind([this](const v1::NodeInstruction* instruction) { StartWrite(instruction); },
                  [this] { context_->TryCancel(); });
    StartRead(&report_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::OK);  // the node closed its stream, or it was cancelled
      return;
    }
    const absl::Time now = absl::Now();
    if (session_ == 0) {
      BeginAttach(now);
      return;
    }
    service_.core_.Touch(session_, now);
    grpc::Status result = grpc::Status::OK;
    const char* kind = "other";
    switch (report_.body_case()) {
      case v1::NodeReport::kMembership:
        kind = "membership";
        result = ToGrpc(ValidateMembership(report_.membership()));
        break;
      case v1::NodeReport::kSources:
        kind = "sources";
        result = ToGrpc(ValidateSources(report_.sources()));
        break;
      case v1::NodeReport::kRtts:
        kind = "rtts";
        result = ToGrpc(ValidateRtts(report_.rtts()));
        break;
      case v1::NodeReport::kMulticastPeers:
        result = ToGrpc(ValidateMulticastPeers(report_.multicast_peers()));
        break;
      case v1::NodeReport::kTraffic:
        kind = "traffic";
        result = ToGrpc(ValidateTraffic(report_.traffic()));
        break;
      case v1::NodeReport::kHeartbeat:
        service_.core_.OnHeartbeat(session_, report_.heartbeat(), now);
        StartRead(&report_);
        return;
      case v1::NodeReport::kHello:
        result =
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello may only be the first report");
        break;
      case v1::NodeReport::BODY_NOT_SET:
        result = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty report");
        break;
    }
    if (!result.ok()) {
      spdlog::warn("closing the session of node {}: {}", node_id_, result.error_message());
      Refuse(kind, result);
      return;
    }
    service_.dispatcher_.Report(session_, report_, now);
    StartRead(&report_);
  }

  void OnWriteDone(bool ok) override { outbox_->OnWriteDone(ok); }

  void OnDone() override {
    outbox_->Unbind();
    if (session_ != 0) service_.dispatcher_.Detach(session_);
    delete this;
  }

 private:
  // The first report: a valid hello from the node its certificate names.
  void BeginAttach(absl::Time now) {
    if (grpc::Status leader = service_.RequireLeader(*context_); !leader.ok()) {
      End(leader);
      return;
    }
    if (!report_.has_hello()) {
      Refuse("hello", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "the first report on an Attach stream must be a hello"));
      return;
    }
    if (absl::Status s = ValidateHello(report_.hello()); !s.ok()) {
      Refuse("hello", ToGrpc(s));
      return;
    }
    std::string certified;
    grpc::Status identity = service_.Authorize(*context_, {kRoleNode}, "Attach", &certified);
    if (identity.ok() && service_.checks_ != CallerChecks::kNone &&
        certified != report_.hello().node_id()) {
      identity =
          grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                       absl::StrCat("a node with the certificate of node '", certified,
                                    "' may not attach as node '", report_.hello().node_id(), "'"));
    }
    if (!identity.ok()) {
      spdlog::warn("refused node {} from {}: {}", report_.hello().node_id(), context_->peer(),
                   identity.error_message());
      Refuse("identity", identity);
      return;
    }
    node_id_ = report_.hello().node_id();
    // The next read starts once the core registered the session.
    service_.dispatcher_.Attach(report_.hello(), outbox_, now,
                                [this](absl::StatusOr<uint64_t> session) {
                                  if (!session.ok()) {
                                    spdlog::warn("refused a node: {}", session.status().ToString());
                                    End(ToGrpc(session.status()));
                                    return;
                                  }
                                  session_ = *session;
                                  StartRead(&report_);
                                });
  }

  // Ends the stream with `status`. No write starts after it: gRPC allows no
  // operation after Finish, and a write started then could end the call
  // twice (OnDone on two threads). A write already in flight completes.
  void End(const grpc::Status& status) {
    outbox_->Unbind();
    Finish(status);
  }

  // Ends the stream with `status`, counting the refused report's kind.
  void Refuse(const char* kind, const grpc::Status& status) {
    if (service_.on_refused_) service_.on_refused_(kind);
    End(status);
  }

  ControllerService& service_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<SessionOutbox> outbox_;
  v1::NodeReport report_;
  std::string node_id_;
  // Set once attached (on the dispatcher's thread, before the next read).
  uint64_t session_ = 0;
};

ControllerService::ControllerService(ControllerCore& core,
                                     std::function<void(const char*)> on_refused,
                                     CallerChecks checks, SessionOutbox::Limits outbox_limits)
    : core_(core),
      on_refused_(std::move(on_refused)),
      checks_(checks),
      outbox_limits_(outbox_limits),
      dispatcher_(core, &edge_rates_) {}

ControllerService::~ControllerService() { Stop(); }

void ControllerService::Stop() { dispatcher_.Stop(); }

grpc::ServerBidiReactor<v1::NodeReport, v1::NodeInstruction>* ControllerService::Attach(
    grpc::CallbackServerContext* context) {
  return new AttachReactor(*this, context);
}

grpc::Status ControllerService::ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest*,
                                          v1::ListNodesResponse* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "ListNodes"); !s.ok()) return s;
  *response = core_.ListNodes();
  return grpc::Status::OK;
}

grpc::Status ControllerService::ListGroups(grpc::ServerContext* context,
                                           const v1::ListGroupsRequest*,
                                           v1::ListGroupsResponse* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "ListGroups"); !s.ok()) return s;
  absl::StatusOr<v1::ListGroupsResponse> groups = core_.ListGroups();
  if (!groups.ok()) return ToGrpc(groups.status());
  *response = *std::move(groups);
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetTree(grpc::ServerContext* context,
                                        const v1::GetTreeRequest* request,
                                        v1::GetTreeResponse* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "GetTree"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  if (!request->source().empty()) {
    if (absl::Status s = ValidateSourceId(request->source()); !s.ok()) return ToGrpc(s);
  }
  absl::StatusOr<v1::GetTreeResponse> tree = core_.GetTree(*request);
  if (!tree.ok()) return ToGrpc(tree.status());
  *response = *std::move(tree);
  Decorate(*response, UploadCapacities(), request->traffic());
  return grpc::Status::OK;
}

std::map<std::string, uint64_t> ControllerService::UploadCapacities() const {
  std::map<std::string, uint64_t> upload;
  const v1::ListNodesResponse nodes = core_.ListNodes();
  for (const v1::NodeSummary& n : nodes.nodes()) {
    if (n.upload_bps() > 0) upload[n.node_id()] = n.upload_bps();
  }
  return upload;
}

void ControllerService::Decorate(v1::GetTreeResponse& response,
                                 const std::map<std::string, uint64_t>& upload,
                                 bool traffic) const {
  for (v1::SourceTree& tree : *response.mutable_trees()) {
    auto add = [&](const std::string& node) {
      if (auto it = upload.find(node); it != upload.end()) {
        (*tree.mutable_upload_bps())[node] = it->second;
      }
    };
    add(tree.root());
    for (const v1::TreeEdge& e : tree.edges()) {
      add(e.parent());
      add(e.child());
    }
  }
  if (traffic) edge_rates_.Annotate(response, absl::Now());
}

grpc::Status ControllerService::GetPolicy(grpc::ServerContext* context,
                                          const v1::GetPolicyRequest* request,
                                          v1::GroupPolicy* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "GetPolicy"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  if (request->stored_only()) {
    absl::StatusOr<bool> stored = core_.HasPolicy(request->group());
    if (!stored.ok()) return ToGrpc(stored.status());
    if (!*stored) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no policy set for group '", request->group(), "'"));
    }
  }
  absl::StatusOr<v1::GroupPolicy> policy = core_.GetPolicy(request->group());
  if (!policy.ok()) return ToGrpc(policy.status());
  *response = *std::move(policy);
  return grpc::Status::OK;
}

grpc::Status ControllerService::SetPolicy(grpc::ServerContext* context,
                                          const v1::GroupPolicy* request,
                                          v1::GroupPolicy* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
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
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
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
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "WatchTree"); !s.ok()) return s;
  if (absl::Status s = ValidateGroupName(request->group()); !s.ok()) return ToGrpc(s);
  uint64_t seen = core_.TreeVersion(request->group());
  bool first = true;
  absl::Time refresh = absl::InfiniteFuture();  // with traffic: send again then
  while (!context->IsCancelled()) {
    if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;  // deposed meanwhile
    if (!first) {
      const uint64_t now = core_.WaitForTreeChange(request->group(), seen, kWatchPoll);
      if (now == seen && absl::Now() < refresh) continue;
      seen = now;
    }
    first = false;
    absl::StatusOr<v1::GetTreeResponse> tree = core_.GetTree(*request);
    v1::GetTreeResponse response;
    if (tree.ok()) {
      response = *std::move(tree);
      Decorate(response, UploadCapacities(), request->traffic());
    } else {
      response.set_group(request->group());  // no trees (yet, or any more)
    }
    if (request->traffic()) refresh = absl::Now() + kTrafficRefresh;
    if (!writer->Write(response)) break;
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetStats(grpc::ServerContext* context, const v1::GetStatsRequest*,
                                         v1::ControllerStats* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "GetStats"); !s.ok()) return s;
  *response = core_.Stats();
  response->set_reports_pending(static_cast<uint32_t>(dispatcher_.pending()));
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest*,
                                          v1::ControllerStatus* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "GetStatus"); !s.ok()) return s;
  *response = core_.Status();
  response->set_version(BuildVersion());
  // These may ask etcd: no lock is held.
  for (v1::Replica& r : core_.leadership().Replicas()) *response->add_replicas() = std::move(r);
  for (v1::EtcdEndpoint& e : core_.leadership().EtcdEndpoints()) {
    *response->add_etcd_endpoints() = std::move(e);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::GetTop(grpc::ServerContext* context,
                                       const v1::GetTopRequest* request,
                                       v1::TopResponse* response) {
  if (grpc::Status s = RequireLeader(*context); !s.ok()) return s;
  if (grpc::Status s = AuthorizeInspection(*context, "GetTop"); !s.ok()) return s;
  if (request->limit() > kTopMax) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("limit ", request->limit(), " is above ", kTopMax));
  }
  absl::StatusOr<v1::ListGroupsResponse> groups = core_.ListGroups();
  if (!groups.ok()) return ToGrpc(groups.status());
  const std::map<std::string, uint64_t> upload = UploadCapacities();
  std::vector<v1::GetTreeResponse> trees;
  for (const v1::GroupSummary& g : groups->groups()) {
    if (g.sources().empty()) continue;
    v1::GetTreeRequest tree_request;
    tree_request.set_group(g.group());
    absl::StatusOr<v1::GetTreeResponse> tree = core_.GetTree(tree_request);
    if (!tree.ok()) continue;  // ended meanwhile
    Decorate(*tree, upload, /*traffic=*/true);
    trees.push_back(*std::move(tree));
  }
  *response = RankTraffic(trees, request->limit() == 0 ? kTopDefault : request->limit());
  return grpc::Status::OK;
}

}  // namespace canopy::controller
