#ifndef CANOPY_NODE_RELAY_COUNTERS_H_
#define CANOPY_NODE_RELAY_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace canopy::node {

// Counters of one relay (monotonic since start), as read for /metrics.
struct RelayCounters {
  uint64_t duplicates_dropped = 0;
  uint64_t unknown_flow_dropped = 0;
  uint64_t disallowed_dropped = 0;
  // Frames that would change a flow's state (DATA, GAP, RESUME) from a link
  // the table does not name for that role: DATA and GAP from anyone but the
  // flow's parent (its id and link token), RESUME from anyone but a child.
  uint64_t not_from_parent_dropped = 0;
  // Frames dropped because an earlier sequence was missing (resent later).
  uint64_t out_of_order_dropped = 0;
  uint64_t resumes_sent = 0;
  uint64_t resumes_served = 0;
  // RESUMEs from a peer this node's table did not yet name a child of the
  // flow, held until the table caught up (HeldResumes).
  uint64_t resumes_held = 0;
  // Frames sent again from the replay ring.
  uint64_t frames_replayed = 0;
  // Sequences declared lost for good (GAP) by or through this node.
  uint64_t sequences_lost = 0;
  // Frames sent once by LAN multicast instead of to each child, frames
  // received that way, and multicast gaps asked of the forwarder (NACK).
  uint64_t multicast_frames_sent = 0;
  uint64_t multicast_frames_received = 0;
  uint64_t multicast_repairs_asked = 0;
  // Data links refused by RelayOptions::link_limits.
  uint64_t links_refused = 0;
  // Data links closed because their TLS handshake failed (a plaintext
  // peer, no certificate, another CA), because the parent's certificate
  // is not that of the node its HELLO announces, or because they said no
  // HELLO in time.
  uint64_t links_refused_tls = 0;
  uint64_t links_refused_identity = 0;
  uint64_t links_refused_no_hello = 0;
  // Bytes held by all replay rings now.
  uint64_t replay_ring_bytes = 0;
};

// The live counters the relay's parts add to: relaxed atomics, no lock.
struct RelayTally {
  std::atomic<uint64_t> duplicates_dropped{0};
  std::atomic<uint64_t> unknown_flow_dropped{0};
  std::atomic<uint64_t> disallowed_dropped{0};
  std::atomic<uint64_t> not_from_parent_dropped{0};
  std::atomic<uint64_t> out_of_order_dropped{0};
  std::atomic<uint64_t> resumes_sent{0};
  std::atomic<uint64_t> resumes_served{0};
  std::atomic<uint64_t> resumes_held{0};
  std::atomic<uint64_t> frames_replayed{0};
  std::atomic<uint64_t> sequences_lost{0};
  std::atomic<uint64_t> multicast_frames_sent{0};
  std::atomic<uint64_t> multicast_frames_received{0};
  std::atomic<uint64_t> multicast_repairs_asked{0};

  // Adds `n` and returns the new total.
  static uint64_t Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    return counter.fetch_add(n, std::memory_order_relaxed) + n;
  }
  // The tallied counters (the link and ring fields left 0).
  RelayCounters Read() const;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_RELAY_COUNTERS_H_
