#include "controller/etcd_client.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/address.h"
#include "base/grpc_status.h"
#include "grpcpp/create_channel.h"

namespace canopy::controller {
namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
}

// Transport trouble: another member may answer.
bool TryAnother(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::Status EtcdError(const char* what, const std::string& endpoint, const grpc::Status& s) {
  // Transport failures all read as "unreachable": that is what callers
  // (and operators) need to know.
  const absl::StatusCode code = TryAnother(s.error_code())
                                    ? absl::StatusCode::kUnavailable
                                    : static_cast<absl::StatusCode>(s.error_code());
  return absl::Status(code, absl::StrCat("etcd ", what, " at ", endpoint, ": ",
                                         s.error_message().empty() ? "failed" : s.error_message()));
}

}  // namespace

absl::StatusOr<std::vector<EtcdEndpointSpec>> ParseEtcdEndpoints(absl::string_view list) {
  std::vector<EtcdEndpointSpec> out;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    EtcdEndpointSpec spec;
    spec.url = std::string(entry);
    absl::string_view rest = entry;
    if (absl::ConsumePrefix(&rest, "https://")) {
      spec.tls = true;
    } else if (!absl::ConsumePrefix(&rest, "http://") && absl::StrContains(rest, "://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint '", entry, "': only http:// and https:// are supported"));
    }
    absl::ConsumeSuffix(&rest, "/");
    absl::StatusOr<HostPort> address = ParseHostPort(rest);
    if (!address.ok() || address->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint '", entry, "' is not [http[s]://]HOST:PORT"));
    }
    spec.target = address->ToString();
    out.push_back(std::move(spec));
  }
  if (out.empty() || (out.size() == 1 && out[0].url.empty())) {
    return absl::InvalidArgumentError("no etcd endpoint given");
  }
  return out;
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint given");
  for (const EtcdEndpointSpec& e : options.endpoints) {
    if (e.tls && !options.tls) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint '", e.url,
                       "' is https: give --etcd-tls-ca, --etcd-tls-cert and "
                       "--etcd-tls-key"));
    }
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {
  for (const EtcdEndpointSpec& spec : options_.endpoints) {
    Endpoint e;
    e.spec = spec;
    grpc::ChannelArguments args;
    // A member that went away is retried soon after it is back.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    e.channel = grpc::CreateCustomChannel(
        spec.target,
        spec.tls ? TlsChannelCredentials(*options_.tls) : grpc::InsecureChannelCredentials(), args);
    e.kv = etcdserverpb::KV::NewStub(e.channel);
    e.lease = etcdserverpb::Lease::NewStub(e.channel);
    e.watch = etcdserverpb::Watch::NewStub(e.channel);
    e.maintenance = etcdserverpb::Maintenance::NewStub(e.channel);
    e.election = v3electionpb::Election::NewStub(e.channel);
    endpoints_.push_back(std::move(e));
  }
}

EtcdClient::Endpoint& EtcdClient::Current() {
  return endpoints_[current_.load() % endpoints_.size()];
}

template <typename Call>
absl::Status EtcdClient::OnSomeEndpoint(const char* what, Call call) {
  const size_t first = current_.load();
  absl::Status last;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    Endpoint& e = endpoints_[index];
    grpc::ClientContext context;
    SetDeadline(context, options_.call_timeout);
    grpc::Status s = call(e, context);
    if (s.ok()) {
      current_.store(index);
      return absl::OkStatus();
    }
    last = EtcdError(what, e.spec.url, s);
    if (!TryAnother(s.error_code())) return last;
  }
  return last;
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  etcdserverpb::RangeResponse response;
  absl::Status s = OnSomeEndpoint("range", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.kv->Range(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> EtcdClient::Put(const etcdserverpb::PutRequest& request) {
  etcdserverpb::PutResponse response;
  absl::Status s = OnSomeEndpoint("put", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.kv->Put(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  absl::Status s = OnSomeEndpoint("txn", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.kv->Txn(&c, request, &response);
  });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<int64_t> EtcdClient::LeaseGrant(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
  etcdserverpb::LeaseGrantResponse response;
  absl::Status s = OnSomeEndpoint("lease grant", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.lease->LeaseGrant(&c, request, &response);
  });
  if (!s.ok()) return s;
  if (!response.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", response.error()));
  }
  return response.id();
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  return OnSomeEndpoint("lease revoke", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.lease->LeaseRevoke(&c, request, &response);
  });
}

absl::StatusOr<absl::Duration> EtcdClient::LeaseKeepAliveOnce(int64_t lease,
                                                              absl::Duration timeout) {
  absl::Duration left;
  absl::Status s = OnSomeEndpoint("lease keep-alive", [&](Endpoint& e, grpc::ClientContext& c) {
    SetDeadline(c, timeout);
    auto stream = e.lease->LeaseKeepAlive(&c);
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    etcdserverpb::LeaseKeepAliveResponse response;
    if (stream->Write(request) && stream->Read(&response)) {
      left = absl::Seconds(std::max<int64_t>(0, response.ttl()));
      stream->WritesDone();
      c.TryCancel();
      stream->Finish();
      return grpc::Status::OK;
    }
    grpc::Status status = stream->Finish();
    if (status.ok()) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed");
    }
    return status;
  });
  if (!s.ok()) return s;
  return left;
}

absl::StatusOr<v3electionpb::LeaderKey> EtcdClient::Campaign(grpc::ClientContext& context,
                                                             const std::string& name, int64_t lease,
                                                             const std::string& value) {
  Endpoint& e = Current();
  v3electionpb::CampaignRequest request;
  request.set_name(name);
  request.set_lease(lease);
  request.set_value(value);
  v3electionpb::CampaignResponse response;
  grpc::Status s = e.election->Campaign(&context, request, &response);
  if (!s.ok()) {
    if (TryAnother(s.error_code())) current_.fetch_add(1);  // the next try goes elsewhere
    return EtcdError("campaign", e.spec.url, s);
  }
  return response.leader();
}

absl::StatusOr<mvccpb::KeyValue> EtcdClient::Leader(const std::string& name) {
  v3electionpb::LeaderRequest request;
  request.set_name(name);
  v3electionpb::LeaderResponse response;
  absl::Status s = OnSomeEndpoint("leader", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.election->Leader(&c, request, &response);
  });
  if (!s.ok()) {
    // etcd says "election: no leader" when nobody campaigns.
    if (absl::StrContains(s.message(), "no leader") && !absl::IsUnavailable(s)) {
      return absl::NotFoundError("no controller leads");
    }
    return s;
  }
  return response.kv();
}

absl::Status EtcdClient::Resign(const v3electionpb::LeaderKey& leader) {
  v3electionpb::ResignRequest request;
  *request.mutable_leader() = leader;
  v3electionpb::ResignResponse response;
  return OnSomeEndpoint("resign", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.election->Resign(&c, request, &response);
  });
}

std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
EtcdClient::Watch(grpc::ClientContext& context) {
  return Current().watch->Watch(&context);
}

std::unique_ptr<grpc::ClientReader<v3electionpb::LeaderResponse>> EtcdClient::Observe(
    grpc::ClientContext& context, const std::string& name) {
  v3electionpb::LeaderRequest request;
  request.set_name(name);
  return Current().election->Observe(&context, request);
}

std::vector<EtcdEndpointHealth> EtcdClient::EndpointHealth(absl::Duration timeout) {
  std::vector<EtcdEndpointHealth> out;
  for (Endpoint& e : endpoints_) {
    EtcdEndpointHealth h;
    h.endpoint = e.spec.url;
    grpc::ClientContext context;
    SetDeadline(context, timeout);
    etcdserverpb::StatusResponse response;
    grpc::Status s = e.maintenance->Status(&context, etcdserverpb::StatusRequest(), &response);
    if (s.ok()) {
      h.healthy = response.leader() != 0 && response.errors().empty();
      h.version = response.version();
      h.has_leader = response.leader() != 0;
      if (!h.has_leader) h.error = "member has no raft leader (lost its quorum)";
      for (const std::string& error : response.errors()) {
        absl::StrAppend(&h.error, h.error.empty() ? "" : "; ", error);
      }
    } else {
      h.error = s.error_message().empty() ? "unreachable" : s.error_message();
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<std::string> EtcdClient::endpoint_urls() const {
  std::vector<std::string> out;
  for (const EtcdEndpointSpec& e : options_.endpoints) out.push_back(e.url);
  return out;
}

}  // namespace canopy::controller
