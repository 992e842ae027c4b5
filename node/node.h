#ifndef CANOPY_NODE_NODE_H_
#define CANOPY_NODE_NODE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/address.h"
#include "base/tls_credentials.h"
#include "node/gateway.h"
#include "node/native_scope.h"

namespace canopy::node {

// Everything canopy-node's flags say, parsed and checked (node/main.cc).
struct NodeConfig {
  std::string id;
  // Controller replicas; the session follows the leader among them.
  std::vector<HostPort> controllers;
  absl::Duration controller_silence = absl::Seconds(2);
  // The Node gRPC service for local clients, the data links of other nodes,
  // and client links (one port).
  HostPort listen;
  HostPort data;
  HostPort client_links;
  // Each shared-memory ring of a local client link; 0 = TCP only.
  size_t local_ring_bytes = 8 << 20;
  uint32_t max_fanout = 0;
  uint64_t upload_bps = 0;
  uint32_t max_payload = 0;
  uint64_t replay_bytes = 64 << 20;
  absl::Duration source_linger = absl::Seconds(30);
  // Peer RTT probing and LAN discovery; zero = off.
  absl::Duration probe_interval = absl::Seconds(1);
  HostPort discovery;
  absl::Duration discovery_interval = absl::Seconds(1);
  // Gateways for unmodified multicast programs.
  std::vector<GatewaySpec> gateways;
  int gateway_ttl = 1;
  int gateway_threshold = 1;
  // --gateway-auto's range, when given.
  std::optional<Ipv4Range> gateway_auto;
  absl::Duration igmp_query_interval = absl::Seconds(125);
  absl::Duration igmp_last_member_query = absl::Seconds(1);
  uint32_t igmp_max_groups = 256;
  uint32_t igmp_max_sources = 64;
  std::vector<Ipv4Range> boundaries;
  uint32_t multicast_datagram_bytes = 1400;
  int max_subscriptions = 4096;
  int max_publishers = 1024;
  int max_links_per_peer = 64;
  uint64_t fault_flip_every = 0;
  absl::Duration detach_after = absl::Seconds(5);
  // A plaintext health-only server, when given.
  std::optional<HostPort> health_listen;
  HostPort metrics_listen;
  // False when metrics_listen is only the default: a taken default port
  // then means no /metrics rather than an error.
  bool metrics_listen_given = false;
  // The identity of every end (gRPC and data plane); none = plaintext.
  std::optional<TlsPem> tls;
};

// A running canopy-node: the composition root that builds the relay's
// components in dependency order and stops them in reverse.
//
// Wiring. Events between components go through this class, and the order of
// construction is what makes them safe without late-bound pointers: every
// component is built before any component that can call it is started.
//   - Local clients' changes are reported by the controller session, which
//     is built before the client servers open (it takes its hello, with the
//     bound addresses, only when it starts).
//   - Frames received by LAN multicast go to the relay, which is built
//     before it joins any group (the channel receives only joined groups).
//   - The session's probe lists go to the peer prober, whose RTTs and the
//     LAN discovery's peers go back to the session; both are built before
//     the session starts.
// Stop() ends the producers of events before their consumers.
//
// Thread-safe: Stop() may be called from any thread, once the node is
// started.
class Node {
 public:
  // Builds and starts every component. An error names the flag whose value
  // could not be served (e.g. "--client-links: address in use"); nothing is
  // left running then.
  static absl::StatusOr<std::unique_ptr<Node>> Start(NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The line canopy-node prints once it serves:
  // "canopy-node ID listening clients=H:P data=H:P links=H:P[ metrics=H:P]
  // [ health=H:P] tls=on|off".
  std::string ListeningLine() const;

  // Stops every component, producers of events first. Idempotent.
  void Stop();

 private:
  struct Parts;
  explicit Node(NodeConfig config);
  absl::Status StartParts();

  const NodeConfig config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_NODE_H_
