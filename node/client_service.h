#ifndef CANOPY_NODE_CLIENT_SERVICE_H_
#define CANOPY_NODE_CLIENT_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "canopy/v1/node.grpc.pb.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/relay.h"
#include "wire/client_link_server.h"
#include "wire/frame.h"

namespace canopy::node {

struct ClientServiceOptions {
  std::string node_id;
  // Queue bounds of one subscriber.
  size_t subscriber_high_watermark_bytes = 8u << 20;
  size_t subscriber_low_watermark_bytes = 2u << 20;
  // Largest payload a publisher may send.
  uint32_t max_payload = wire::kDefaultMaxPayload;
  // How long a new publisher's first message waits for the controller to
  // build its tree (or refuse it). After that it is delivered locally and
  // forwarded as soon as the tree arrives.
  absl::Duration tree_wait = absl::Seconds(5);
  // How long an offered client link waits for its client to connect.
  absl::Duration link_accept_timeout = absl::Seconds(10);
  // Subscriptions and publish calls this node serves at once; more are
  // refused with RESOURCE_EXHAUSTED and counted.
  int max_subscriptions = 4096;
  int max_publishers = 1024;
  // Mutual TLS is on: a publisher must present a client certificate with
  // OU=publisher and CN = the base id of the source it publishes
  // (base/stripe_source.h), else PERMISSION_DENIED. (Subscribers need any
  // certificate the node's CA verifies, which the TLS handshake ensures.)
  bool certified_sources = false;
};

// Calls the ClientService refused for being over a limit.
struct ClientRefusals {
  uint64_t subscriptions = 0;
  uint64_t publishers = 0;
  // Connections to an offered client link that were closed: a wrong or no
  // token, a failed TLS handshake, plaintext on a TLS node, or a
  // certificate that is not the caller's.
  uint64_t client_links = 0;
};

// The Node service for local publishers and subscribers (node.proto):
// validates each request, then hands it to LocalClients / Relay. Client
// links are offered on the node's one client-link port (`links`, whose
// TLS decides theirs) and served asynchronously on its I/O thread.
//
// Subscribe runs on gRPC's callback API: a subscription costs the node no
// thread of its own, whatever its transport. The publish calls run on
// gRPC's threads (at most --max-publishers of them).
//
// Thread-safe.
class ClientService final : public v1::Node::WithCallbackMethod_Subscribe<v1::Node::Service> {
 public:
  // `links` and the others must outlive the service.
  ClientService(ClientServiceOptions options, ForwardingState& state, LocalClients& clients,
                Relay& relay, wire::ClientLinkServer& links);
  ~ClientService() override;

  grpc::ServerWriteReactor<v1::Delivery>* Subscribe(grpc::CallbackServerContext* context,
                                                    const v1::SubscribeRequest* request) override;

  grpc::Status Publish(grpc::ServerContext* context, grpc::ServerReader<v1::Publication>* reader,
                       v1::PublishSummary* summary) override;

  grpc::Status PublishOverLink(grpc::ServerContext* context, const v1::PublishLinkRequest* request,
                               grpc::ServerWriter<v1::PublishLinkEvent>* writer) override;

  ClientRefusals refusals() const;
  // Subscriptions being served now.
  int subscriptions() const { return subscriptions_.load(); }

 private:
  class SubscribeReactor;
  class PublisherAdmission;

  // The Delivery of an event (joined, or a source's status) from the queue.
  v1::Delivery EventDelivery(const DeliveryItem& event) const;
  // Takes one of `limit` slots counted by `in_use`, or counts a refusal in
  // `refused` and returns the RESOURCE_EXHAUSTED status for `what` (`flag`
  // names the canopy-node option).
  static grpc::Status TakeSlot(std::atomic<int>& in_use, int limit, std::atomic<uint64_t>& refused,
                               const char* what, const char* flag);

  // Waits until the controller built the tree of a new source, or refused
  // it (PERMISSION_DENIED); after tree_wait goes on without it.
  grpc::Status AwaitTree(const std::string& group, const std::string& source);
  // What both publish calls check first: names, the caller's certificate
  // (certified_sources), the allow-list, a free publisher slot; then
  // registers the source (held by `admitted` until the call ends) and waits
  // for its tree (AwaitTree).
  grpc::Status AdmitPublisher(const grpc::ServerContextBase& context, const std::string& group,
                              const std::string& source,
                              std::unique_ptr<PublisherAdmission>& admitted);
  // OK unless certified_sources is on and the caller's certificate is not
  // that of a publisher of `source`.
  grpc::Status CheckPublisherIdentity(const grpc::ServerContextBase& context,
                                      const std::string& source) const;
  // Offers a client link to the caller: fills `offer` and registers it
  // with the link server (with TLS, for the call's certificate only).
  absl::Status OfferLink(const grpc::ServerContextBase& context, v1::LinkOffer& offer,
                         wire::ClientLinkServer::LinkHandler on_link);

  const ClientServiceOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;
  Relay& relay_;
  wire::ClientLinkServer& links_;
  std::atomic<int> subscriptions_{0};
  std::atomic<int> publishers_{0};
  std::atomic<uint64_t> refused_subscriptions_{0};
  std::atomic<uint64_t> refused_publishers_{0};
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_CLIENT_SERVICE_H_
