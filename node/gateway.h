#ifndef CANOPY_NODE_GATEWAY_H_
#define CANOPY_NODE_GATEWAY_H_

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "node/forwarding_state.h"
#include "node/gateway_counters.h"
#include "node/local_clients.h"
#include "node/multicast_discovery.h"
#include "node/native_scope.h"
#include "node/relay.h"
#include "node/subscriber_queue.h"

namespace canopy::node {

// "GROUP_ADDR:PORT[=canopy-group]" of canopy-node --gateway.
struct GatewaySpec {
  std::string native_group;  // "A.B.C.D:PORT", a class-D address
  std::string canopy_group;  // default "mcast/A.B.C.D:PORT"
};

// Parses a --gateway value. InvalidArgument naming the problem.
absl::StatusOr<GatewaySpec> ParseGatewaySpec(const std::string& text);

struct GatewayOptions {
  GatewaySpec spec;
  // Local IPv4 address of the LAN interface (the node's data address).
  std::string interface_address;
  // TTL of re-emitted messages that carry no gateway envelope (those of
  // Canopy publishers); a carried datagram gets its own TTL less one.
  int ttl = 1;
  // Only captured datagrams whose TTL exceeds this cross (1..255).
  int threshold = 1;
  // Where native multicast stops: a scoped group is neither captured nor
  // re-emitted here.
  NativeScope scope;
  // Where the gateway counts what it did. Null: not counted. REQUIRES: it
  // outlives the gateway.
  GatewayCounters* counters = nullptr;
  uint32_t max_payload = wire::kDefaultMaxPayload;
};

// Joins a native multicast group on this node's LAN to the overlay, for
// unmodified programs that only use socket options (IP_MULTICAST_TTL,
// IP_ADD_MEMBERSHIP). Datagrams of legacy senders on the LAN are published
// into the overlay group, each sender's IPv4 address being its source id
// (so allow-lists and source filters apply to it). Scope is kept as the
// MBone's tunnels kept it: only datagrams whose IP TTL exceeds the
// threshold cross, each in a gateway envelope (gateway_envelope.h) that
// carries its TTL and UDP source port; the receiving gateway re-emits the
// payload with that TTL less one. Groups the scope stops (link-local,
// local scope, --boundary) never cross in either direction. Messages
// without an envelope (Canopy publishers') are re-emitted with options.ttl.
// Never
// captured: its own emissions, and datagrams from other Canopy nodes of the
// LAN (their gateways' re-emissions); never re-emitted: what it published.
//
// Thread-safe. Two threads between Start() and Stop().
class Gateway {
 public:
  Gateway(GatewayOptions options, Relay& relay, LocalClients& clients, ForwardingState& state);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Joins the native group and subscribes to the overlay group.
  // Unavailable (with the reason) where multicast cannot be used.
  absl::Status Start();
  void Stop();

  // The other Canopy nodes heard on the LAN (multicast_discovery.h). Of
  // several gateways for the same native group on one LAN, the one with the
  // lowest address is designated: only it captures and re-emits; the others
  // stand by and take over when it is no longer heard.
  void SetLanPeers(const std::vector<LanPeer>& peers);

  const std::string& native_group() const { return options_.spec.native_group; }

 private:
  void Capture();
  void Emit();
  // Counts a datagram kept on the LAN, if counters were given.
  void CountKept(ScopeReason reason);
  // Sets the emit socket's multicast TTL unless it is `ttl` already.
  // Only the emit thread calls it.
  bool SetEmitTtl(int ttl);

  const GatewayOptions options_;
  Relay& relay_;
  LocalClients& clients_;
  ForwardingState& state_;
  std::atomic<bool> stop_{false};
  int capture_fd_ = -1;
  int emit_fd_ = -1;
  int emit_ttl_ = -1;  // the emit socket's multicast TTL (emit thread only)
  // The group's scope on this gateway (kNone: it may cross); set by Start().
  ScopeReason scoped_ = ScopeReason::kNone;
  std::shared_ptr<SubscriberQueue> subscription_;
  std::thread capture_thread_, emit_thread_;
  mutable absl::Mutex mu_;
  std::set<std::string> lan_peers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> published_ ABSL_GUARDED_BY(mu_);  // sources this gateway publishes
  bool designated_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_GATEWAY_H_
