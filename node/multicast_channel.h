#ifndef CANOPY_NODE_MULTICAST_CHANNEL_H_
#define CANOPY_NODE_MULTICAST_CHANNEL_H_

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "node/multicast_datagram.h"
#include "wire/frame.h"

namespace canopy::node {

// "A.B.C.D:PORT" with an IPv4 multicast (class D) address and a port
// other than 0; InvalidArgument naming the text otherwise.
absl::StatusOr<sockaddr_in> ParseMulticastAddress(const std::string& text);

struct MulticastChannelOptions {
  // Local IPv4 address of the LAN interface (the node's data address).
  std::string interface_address;
  // Largest datagram sent (header + slice): 1400 keeps clear of IP
  // fragmentation on an Ethernet MTU of 1500 with room for tunnels.
  size_t datagram_bytes = 1400;
  uint32_t max_payload = wire::kDefaultMaxPayload;
  // Gets each verified frame that arrived on a joined group, and the IPv4
  // address of its sender. On the channel's receive thread.
  std::function<void(wire::FramePtr frame, const std::string& sender)> on_frame;
};

// Counters of one channel (monotonic).
struct MulticastChannelCounters {
  uint64_t frames_sent = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_errors = 0;  // datagrams the kernel refused (e.g. ENOBUFS)
  uint64_t frames_received = 0;
  uint64_t datagrams_malformed = 0;
  uint64_t frames_abandoned = 0;  // partial frames dropped (a fragment lost)
};

// Native IP multicast for the data plane on one LAN interface: sends a frame
// once to a group address with a TTL, cut into datagrams that IP need not
// fragment (multicast_datagram.h), and receives the frames sent to the
// groups joined. Loss is not repaired here (the relay asks the forwarder).
//
// Thread-safe. One receive thread while any group is joined.
class MulticastChannel {
 public:
  explicit MulticastChannel(MulticastChannelOptions options);
  ~MulticastChannel();
  MulticastChannel(const MulticastChannel&) = delete;
  MulticastChannel& operator=(const MulticastChannel&) = delete;

  // Opens the sending socket on the interface. Unavailable (with the reason)
  // where multicast cannot be used (no IPv4 address, loopback);
  // InvalidArgument for a datagram size below kMinDatagramBytes or above
  // 65507.
  absl::Status Start();
  void Stop();

  // Sends `frame` to `group` ("A.B.C.D:PORT", a multicast address) with IP
  // TTL `ttl` (1..255). InvalidArgument for a bad address; Unavailable if
  // the kernel refused a datagram (counted; receivers repair the frame).
  absl::Status Send(const std::string& group, int ttl, const wire::Frame& frame);

  // Joins / leaves `group` on the interface (counted: a group stays joined
  // until every Join was matched by a Leave). All groups share the port of
  // the first one joined; InvalidArgument for another port or a bad address.
  absl::Status Join(const std::string& group);
  void Leave(const std::string& group);

  MulticastChannelCounters counters() const;

 private:
  void Receive();

  const MulticastChannelOptions options_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  int send_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int last_ttl_ ABSL_GUARDED_BY(mu_) = -1;
  int receive_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int receive_port_ ABSL_GUARDED_BY(mu_) = -1;
  std::map<std::string, int> joined_ ABSL_GUARDED_BY(mu_);  // group address → Join count
  std::thread receive_thread_;
  MulticastChannelCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_MULTICAST_CHANNEL_H_
