#ifndef CANOPY_NODE_FLOW_STATE_H_
#define CANOPY_NODE_FLOW_STATE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/forwarding_state.h"
#include "node/replay_ring.h"
#include "node/subscriber_queue.h"
#include "wire/frame.h"
#include "wire/frame_sender.h"

namespace canopy::node {

// Where a repair's frames go: a child's link, or a local subscriber that
// asked for a resend (with the flow's names for its items).
struct RepairTarget {
  std::shared_ptr<wire::FrameSender> link;
  std::shared_ptr<SubscriberQueue> subscriber;
  std::shared_ptr<const FlowNames> names;

  bool closed() const { return link ? link->closed() : subscriber->closed(); }
  void Send(const wire::FramePtr& frame) const;
  // Who it is, for log lines.
  std::string who() const { return link ? link->peer_node() : "a local subscriber"; }
};

// What one node keeps of one (group, source) flow across forwarding-table
// versions: its sequence state, replay ring and the repairs in progress.
// Every field is guarded by `mu`, held from taking or checking a sequence
// number to handing the frame to every receiver, so a flow is never
// reordered.
struct FlowState {
  absl::Mutex mu;
  // The flow's numeric ids as the table last named them (0 before it did).
  uint32_t group_handle ABSL_GUARDED_BY(mu) = 0;
  uint32_t source_id ABSL_GUARDED_BY(mu) = 0;
  // Highest sequence dispatched in order; at the ingress, the counter.
  uint64_t last ABSL_GUARDED_BY(mu) = 0;
  ReplayRing ring ABSL_GUARDED_BY(mu);
  // Parent named by the table when last seen (to notice a move).
  std::string parent ABSL_GUARDED_BY(mu);
  // Whether the last compiled table carried the flow as live (not
  // retired), and whether it came back since a table that did not: then
  // its parent may have kept frames for it meanwhile that no live frame
  // will reveal, and it must ask (RESUME) even on an unchanged parent.
  bool in_table ABSL_GUARDED_BY(mu) = false;
  bool returned ABSL_GUARDED_BY(mu) = false;
  // Child side: the `last` a RESUME was sent for, and when.
  uint64_t resume_asked_after ABSL_GUARDED_BY(mu) = 0;
  absl::Time resume_asked_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  // Parent side: receivers being sent what they lack.
  struct Repair {
    RepairTarget target;
    uint64_t next = 0;   // next sequence the receiver needs
    uint64_t until = 0;  // last one to send; 0 = follow the live flow
    // Last sequence of the range this node asked its own parent for
    // (0 = none outstanding).
    uint64_t asked_until = 0;
    // Without progress by then, the missing range is declared lost.
    absl::Time deadline;
  };
  std::vector<Repair> repairs ABSL_GUARDED_BY(mu);
  // Frames received by multicast beyond a gap, by sequence.
  std::map<uint64_t, wire::FramePtr> ahead ABSL_GUARDED_BY(mu);
  // Forwarder side: the last frame sent by multicast, sent again when the
  // flow goes quiet so a receiver that lost the tail of a burst notices.
  struct MulticastTail {
    wire::FramePtr frame;
    std::string group;
    int ttl = 1;
    absl::Time sent_at;
    int resent = 0;
  };
  std::optional<MulticastTail> multicast_tail ABSL_GUARDED_BY(mu);
  // Receiver side: frames that came by multicast before the parent's link
  // did (nothing to check their sender against yet), with their senders.
  std::vector<std::pair<wire::FramePtr, std::string>> before_parent_link ABSL_GUARDED_BY(mu);
  // What the node reports of the flow (edge_report.h): payload bytes handed
  // on in order (FanOut::Dispatch), and RESUME requests sent to the parent.
  // Atomic, so a report reads them without `mu`.
  std::atomic<uint64_t> bytes_handed_on{0};
  std::atomic<uint64_t> resumes_sent{0};
};

// The byte budget all replay rings share (canopy-node --replay-mib).
//
// Thread-safe.
class ReplayBudget {
 public:
  explicit ReplayBudget(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Keeps `frame` in the flow's ring, evicting the flow's oldest frames
  // while all rings together exceed the budget (the newest frame of a flow
  // is always kept). REQUIRES: flow.mu held.
  void Remember(FlowState& flow, const wire::FramePtr& frame);
  // Returns the bytes of a ring that was cleared.
  void Release(size_t bytes) { bytes_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  const size_t max_bytes_;
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FLOW_STATE_H_
