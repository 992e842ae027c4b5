#ifndef CANOPY_NODE_AUTO_GATEWAY_H_
#define CANOPY_NODE_AUTO_GATEWAY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/forwarding_state.h"
#include "node/gateway_counters.h"
#include "node/igmp_membership.h"
#include "node/local_clients.h"
#include "node/multicast_discovery.h"
#include "node/native_scope.h"
#include "node/relay.h"
#include "node/subscriber_queue.h"

namespace canopy::node {

struct AutoGatewayOptions {
  // Local IPv4 address of the LAN interface (the node's data address).
  std::string interface_address;
  // The native groups it serves: --gateway-auto's range less every scoped
  // range (NativeScope::Serve).
  std::vector<Ipv4Range> served;
  NativeScope scope;
  // Native group addresses static gateways (--gateway) carry; left to them.
  std::set<uint32_t> static_groups;
  // Only captured datagrams whose TTL exceeds this cross (1..255).
  int threshold = 1;
  IgmpTimers timers;
  size_t max_groups = 256;
  size_t max_sources = 64;
  // Send IGMP queries while no querier with a lower address is heard.
  bool querier = true;
  // REQUIRES: outlives the gateway. Null: not counted.
  GatewayCounters* counters = nullptr;
  uint32_t max_payload = wire::kDefaultMaxPayload;
};

// The overlay group an IGMP-driven gateway carries native group `group` in
// (any UDP port; the port travels in the gateway envelope): "mcast/A.B.C.D".
std::string AutoGroupName(uint32_t group);

// A gateway driven by its LAN's IGMP, as an IGMP proxy or mrouted: it
// learns from the LAN's IGMPv1/v2/v3 reports which groups of its range have
// listeners and with which source filters (IgmpMembership, RFC 3376
// timers), subscribes to "mcast/A.B.C.D" with the merged filter while a
// group has listeners, and re-emits what arrives with the original sender's
// address and ports (so source-specific receivers, SSM, accept it) and the
// carried TTL less one. It captures every datagram legacy senders of the
// LAN send to a served group (whose TTL exceeds the threshold) and
// publishes it into that group's overlay group. Where no querier with a
// lower address is heard it is the LAN's querier.
//
// It sees the LAN's traffic through a packet socket in all-multicast mode
// (needs CAP_NET_RAW) and re-emits through a raw socket. Malformed,
// truncated and spoofed IGMP packets are counted and ignored; learned state
// is bounded (max_groups, max_sources) and the excess refused, counted and
// logged once. Of several IGMP-driven gateways on a LAN the one with the
// lowest address is designated; the others stand by.
//
// Thread-safe. Two threads between Start() and Stop().
class AutoGateway {
 public:
  AutoGateway(AutoGatewayOptions options, Relay& relay, LocalClients& clients,
              ForwardingState& state);
  ~AutoGateway();
  AutoGateway(const AutoGateway&) = delete;
  AutoGateway& operator=(const AutoGateway&) = delete;

  // Opens the sockets on the interface. Unavailable (with the reason) when
  // it cannot: no such interface, no CAP_NET_RAW.
  absl::Status Start();
  void Stop();

  // The Canopy nodes heard on the LAN (never captured, and the designation).
  void SetLanPeers(const std::vector<LanPeer>& peers);

  // Learned groups, each with its listeners' filters (for inspection).
  std::map<uint32_t, std::map<uint32_t, v1::SourceFilter>> Listeners() const;

 private:
  void Capture();
  void Emit();
  // `checksum_ready`: false while an offloaded UDP checksum is partial.
  void HandlePacket(absl::string_view bytes, bool checksum_ready, absl::Time now);
  void HandleIgmp(uint32_t source, uint8_t ttl, absl::string_view igmp, absl::Time now);
  void HandleUdp(uint32_t source, uint32_t group, uint8_t ttl, uint16_t source_port,
                 uint16_t destination_port, absl::string_view payload);
  // Expiry, queries. Capture thread.
  void Tick(absl::Time now);
  void SendQuery(uint32_t group);
  // Makes the overlay subscriptions match the learned groups.
  void SyncSubscriptions() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-emits one message of `group` on the LAN. Emit thread.
  void EmitItem(uint32_t group, const DeliveryItem& item);
  void CountKept(ScopeReason reason);
  bool OnLan(uint32_t address) const;

  const AutoGatewayOptions options_;
  Relay& relay_;
  LocalClients& clients_;
  ForwardingState& state_;
  uint32_t interface_ = 0;  // host byte order
  uint32_t netmask_ = 0;
  int ifindex_ = 0;
  size_t mtu_ = 1500;
  int packet_fd_ = -1;
  int raw_fd_ = -1;
  int igmp_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread capture_thread_, emit_thread_;
  uint16_t next_id_ = 1;  // IPv4 identification of re-emitted packets (emit thread)

  mutable absl::Mutex mu_;
  IgmpMembership membership_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, std::shared_ptr<SubscriberQueue>> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<uint32_t, std::string>> published_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> lan_peers_ ABSL_GUARDED_BY(mu_);
  bool designated_ ABSL_GUARDED_BY(mu_) = true;
  bool refusal_logged_ ABSL_GUARDED_BY(mu_) = false;
  // Querier state (capture thread only).
  absl::Time other_querier_until_ = absl::InfinitePast();
  absl::Time next_general_query_ = absl::InfinitePast();
  int startup_queries_left_ = 0;
  std::vector<std::pair<absl::Time, uint32_t>> pending_queries_;
  std::vector<uint32_t> to_query_ ABSL_GUARDED_BY(mu_);
  // Wakes the emit thread when a subscription has something.
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_AUTO_GATEWAY_H_
