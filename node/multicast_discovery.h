#ifndef CANOPY_NODE_MULTICAST_DISCOVERY_H_
#define CANOPY_NODE_MULTICAST_DISCOVERY_H_

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace canopy::node {

// A node heard on the LAN.
struct LanPeer {
  std::string address;                   // its IPv4 address
  std::set<std::string> gateway_groups;  // native groups it is a gateway for
};

struct MulticastDiscoveryOptions {
  std::string node_id;
  // Local IPv4 address of the interface to probe on (the node's data
  // address).
  std::string interface_address;
  // Discovery group and UDP port (administratively scoped).
  std::string group = "239.255.77.77";
  uint16_t port = 7777;
  absl::Duration interval = absl::Seconds(1);
  // Gets the sorted ids of the nodes heard within the last 3 intervals,
  // when the set changes and every 3 intervals. On the discovery thread.
  std::function<void(std::vector<std::string>)> on_peers;
  // Native groups this node is a gateway for (announced in its probes).
  std::vector<std::string> gateway_groups;
  // Gets those nodes' addresses and gateway groups, with on_peers.
  std::function<void(std::vector<LanPeer>)> on_lan_peers;
};

// Finds the nodes that share this node's LAN with working native
// multicast: sends a TTL-1 UDP probe ("CNDISC1 <node id>[ gw=<groups>]") to the discovery
// group every interval and listens for the probes of others. A LAN that
// starts dropping multicast empties the set within 3 intervals, and it fills
// again when multicast returns. Malformed datagrams are ignored.
//
// Thread-safe; one internal thread between Start() and Stop().
class MulticastDiscovery {
 public:
  explicit MulticastDiscovery(MulticastDiscoveryOptions options);
  ~MulticastDiscovery();
  MulticastDiscovery(const MulticastDiscovery&) = delete;
  MulticastDiscovery& operator=(const MulticastDiscovery&) = delete;

  // Opens the socket, joins the group on the interface and starts probing.
  // Unavailable (with the reason) where multicast cannot be used, e.g. an
  // interface without multicast such as loopback.
  absl::Status Start();
  void Stop();

 private:
  void Run();

  const MulticastDiscoveryOptions options_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_MULTICAST_DISCOVERY_H_
