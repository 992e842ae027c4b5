#ifndef CANOPY_NODE_CLIENT_SERVICE_H_
#define CANOPY_NODE_CLIENT_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "canopy/v1/node.grpc.pb.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/relay.h"

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
};

// The Node service for local publishers and subscribers (node.proto):
// validates each request, then hands it to LocalClients / Relay.
//
// Thread-safe (gRPC runs each call on its own thread).
class ClientService final : public v1::Node::Service {
 public:
  ClientService(ClientServiceOptions options, ForwardingState& state, LocalClients& clients,
                Relay& relay);

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::Delivery>* writer) override;

  grpc::Status Publish(grpc::ServerContext* context, grpc::ServerReader<v1::Publication>* reader,
                       v1::PublishSummary* summary) override;

 private:
  const ClientServiceOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;
  Relay& relay_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_CLIENT_SERVICE_H_
