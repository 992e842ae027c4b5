#ifndef CANOPY_CONTROLLER_ETCD_CLIENT_H_
#define CANOPY_CONTROLLER_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/tls_credentials.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/v3electionpb/v3election.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace canopy::controller {

// One etcd endpoint as canopy-controller --etcd names it:
// "http://HOST:PORT", "https://HOST:PORT" or a bare "HOST:PORT" (http).
struct EtcdEndpointSpec {
  std::string url;     // as given
  std::string target;  // HOST:PORT for gRPC
  bool tls = false;
};

// Parses a comma-separated --etcd list. InvalidArgument naming the bad
// entry for an empty list or entry, another scheme, or a bad HOST:PORT.
absl::StatusOr<std::vector<EtcdEndpointSpec>> ParseEtcdEndpoints(absl::string_view list);

struct EtcdClientOptions {
  std::vector<EtcdEndpointSpec> endpoints;
  // Client TLS for https:// endpoints (canopy-controller --etcd-tls-*):
  // the CA that signed etcd's certificates, and the client certificate etcd
  // asks for with --client-cert-auth. Required if any endpoint is https.
  std::optional<TlsPem> tls;
  // Deadline of every unary call, per endpoint tried.
  absl::Duration call_timeout = absl::Seconds(2);
};

// What one endpoint answered to Maintenance.Status.
struct EtcdEndpointHealth {
  std::string endpoint;
  bool healthy = false;
  std::string version;
  bool has_leader = false;
  std::string error;
};

// A client of an etcd v3 cluster over its gRPC API (proto/etcd/): KV,
// Lease, Watch, Election and Maintenance.Status, with Canopy's own stubs.
//
// Unary calls go to the current endpoint; one that fails for transport
// reasons (UNAVAILABLE, DEADLINE_EXCEEDED: the member is down or has lost
// its quorum) is retried once on each other endpoint, and the first that
// answers becomes the current one. Errors are UNAVAILABLE (or the server's
// own code) with a message that starts "etcd" and names the endpoint.
//
// Thread-safe.
class EtcdClient {
 public:
  // Checks the options (TLS present for https endpoints) and makes a
  // channel per endpoint; connects lazily.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // KV.
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);

  // Lease: a new lease of `ttl` (its id), and its revocation (every key
  // bound to it goes).
  absl::StatusOr<int64_t> LeaseGrant(absl::Duration ttl);
  absl::Status LeaseRevoke(int64_t lease);
  // Renews `lease` once: its remaining TTL (zero when the lease is gone).
  // `timeout` bounds the whole exchange.
  absl::StatusOr<absl::Duration> LeaseKeepAliveOnce(int64_t lease, absl::Duration timeout);

  // Election. Campaign waits (on the current endpoint, no retry) until the
  // caller leads `name`; cancel `context` to give up. Leader is NotFound
  // while nobody leads.
  absl::StatusOr<v3electionpb::LeaderKey> Campaign(grpc::ClientContext& context,
                                                   const std::string& name, int64_t lease,
                                                   const std::string& value);
  absl::StatusOr<mvccpb::KeyValue> Leader(const std::string& name);
  absl::Status Resign(const v3electionpb::LeaderKey& leader);

  // Streams on the current endpoint, for the caller to drive: Watch and
  // Election.Observe.
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
  Watch(grpc::ClientContext& context);
  std::unique_ptr<grpc::ClientReader<v3electionpb::LeaderResponse>> Observe(
      grpc::ClientContext& context, const std::string& name);

  // Asks every endpoint for its status (each within `timeout`).
  std::vector<EtcdEndpointHealth> EndpointHealth(absl::Duration timeout);

  // The endpoints as given, in order.
  std::vector<std::string> endpoint_urls() const;

 private:
  struct Endpoint {
    EtcdEndpointSpec spec;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
    std::unique_ptr<v3electionpb::Election::Stub> election;
  };

  explicit EtcdClient(EtcdClientOptions options);

  // Runs `call(endpoint, context)` on the current endpoint, then on the
  // others while it fails for transport reasons; `what` names the call in
  // errors.
  template <typename Call>
  absl::Status OnSomeEndpoint(const char* what, Call call);
  Endpoint& Current();

  const EtcdClientOptions options_;
  std::vector<Endpoint> endpoints_;
  std::atomic<size_t> current_{0};
};

// The key range that holds every key starting with `prefix`
// (RangeRequest.range_end).
std::string PrefixEnd(const std::string& prefix);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_ETCD_CLIENT_H_
