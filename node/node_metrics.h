#ifndef CANOPY_NODE_NODE_METRICS_H_
#define CANOPY_NODE_NODE_METRICS_H_

#include <atomic>

#include "node/client_service.h"
#include "node/forwarding_state.h"
#include "node/gateway_counters.h"
#include "node/local_clients.h"
#include "node/relay.h"
#include "node/traffic_counters.h"
#include "ops/metrics.h"

namespace canopy::node {

// The node's Prometheus metrics (docs/operations.md lists them): the
// controller session's state, the forwarding table's version and size,
// local subscribers and publishers per group, and the data plane's
// TrafficCounters, all read at scrape time.
//
// Thread-safe.
class NodeMetrics {
 public:
  // Registers the families on `registry`. REQUIRES: every argument outlives
  // every scrape (stop the metrics server first).
  NodeMetrics(ops::MetricsRegistry& registry, const ForwardingState& state,
              const LocalClients& clients, const TrafficCounters& traffic);
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // Also exports the relay's resume and repair counters. REQUIRES: `relay`
  // outlives every scrape.
  void AddRelay(ops::MetricsRegistry& registry, const Relay& relay);

  // Exports canopy_node_refused_total{reason}: data links and client calls
  // refused for being over a limit, data links refused for their TLS
  // handshake or identity, and refused client-link connections.
  // REQUIRES: both outlive every scrape.
  void AddRefusals(ops::MetricsRegistry& registry, const Relay& relay,
                   const ClientService& service);

  // Exports the gateways' counters: canopy_node_gateway_captured_total,
  // canopy_node_gateway_emitted_total and
  // canopy_node_gateway_kept_total{reason} (ttl, link_local, local_scope,
  // boundary), canopy_node_gateway_igmp_messages_total{outcome} and
  // canopy_node_gateway_learned_groups. REQUIRES: `counters` outlives every
  // scrape.
  void AddGateways(ops::MetricsRegistry& registry, const GatewayCounters& counters);

  // The controller session attached (true) or lost its stream (false).
  void SetAttached(bool attached);

 private:
  std::atomic<bool> attached_{false};
  ops::CounterFamily& attaches_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_NODE_METRICS_H_
