#ifndef CANOPY_NODE_CHILD_LINKS_H_
#define CANOPY_NODE_CHILD_LINKS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "node/flow_table.h"
#include "node/scheduler.h"
#include "node/subscriber_queue.h"
#include "wire/outbound_link.h"
#include "wire/queued_link.h"

namespace canopy::node {

// Receivers that were above their high watermark after a frame was handed
// to them: the sender waits for them (reliable back pressure).
struct Pressure {
  std::vector<std::shared_ptr<wire::QueuedLink>> links;
  std::vector<std::shared_ptr<SubscriberQueue>> subscribers;
  bool empty() const { return links.empty() && subscribers.empty(); }
  // Adds the receivers of `other`.
  void Absorb(Pressure other);
};

// Opens a link to child `node_id` at `address`. `on_control` gets the
// frames the child sends back (RESUME, PONG); `on_closed` runs once when
// the link closes. The real factory starts a wire::OutboundLink.
using ChildLinkFactory = std::function<std::shared_ptr<wire::QueuedLink>(
    const std::string& node_id, const wire::Endpoint& address, wire::ControlHandler on_control,
    std::function<void(const absl::Status&)> on_closed)>;

struct ChildLinksOptions {
  // A receiver above its high watermark that takes fewer than
  // `min_progress_bytes` in this long is detached (`reliable`: back
  // pressure, then detach). One that is full but still drains at that
  // rate or faster (a child catching up over a slow link) is waited for.
  absl::Duration detach_after = absl::Seconds(5);
  // A failed link to a child the table still names is opened again after
  // this long (the child may have restarted).
  absl::Duration relink_delay = absl::Milliseconds(250);
  // Bytes a full receiver must take per detach_after to count as draining.
  uint64_t min_progress_bytes = 64u << 10;
  // A detached child's link is opened again after detach_after, doubling
  // with each detach in a row up to this, so a child that reads again
  // resumes (and is told what is gone) while a stuck one costs the flow
  // at most detach_after per relink.
  absl::Duration max_relink_backoff = absl::Seconds(60);
};

// This node's links to its children, one per child node shared by every
// flow that feeds it, and the back pressure they exert. A link that fails
// is opened again while the table still names its child.
//
// Thread-safe.
class ChildLinks {
 public:
  // `scheduler` and `factory` must outlive this object; `on_control` gets
  // every control frame from any child.
  ChildLinks(ChildLinksOptions options, Scheduler& scheduler, ChildLinkFactory factory,
             wire::ControlHandler on_control);
  ChildLinks(const ChildLinks&) = delete;
  ChildLinks& operator=(const ChildLinks&) = delete;

  // The slot of child `hop` with a live link to its data address: opened
  // now if it has none, its link failed, or the address changed. Null for
  // an unparseable address or after CloseAll().
  std::shared_ptr<ChildSlot> Slot(const v1::Hop& hop);

  // Closes the links of every child not in `keep`; returns their ids.
  std::vector<std::string> Retain(const absl::flat_hash_set<std::string>& keep);

  // Closes every link; opens none from now on. Idempotent.
  void CloseAll();

  // Runs `done` once every receiver in `pressure` drained to its low
  // watermark. Every detach_after, a receiver still full that took fewer
  // than min_progress_bytes since the last look is detached: a child's
  // link is closed (and opened again after a backoff, so the child
  // resumes), a subscriber ends with ResourceExhausted. `done` runs once
  // no receiver is both full and draining, on a receiver's or the
  // scheduler's thread, and must not block.
  void AwaitDrain(Pressure pressure, std::function<void()> done);

  // The current links, for gauges.
  std::vector<std::shared_ptr<wire::QueuedLink>> Links() const;

 private:
  // Opens a link into `slot`. REQUIRES: mu_ held.
  void Open(const std::shared_ptr<ChildSlot>& slot, const wire::Endpoint& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After `delay`, opens the slot's link again if it is still wanted.
  void ScheduleRelink(const std::string& node_id, absl::Duration delay);
  // Closes a child's link that stopped draining and schedules its relink
  // with backoff.
  void Detach(const std::shared_ptr<wire::QueuedLink>& link);
  struct DrainWait;
  // AwaitDrain's look every detach_after (scheduler thread): detaches the
  // receivers that took too little since the last look, finishes when none
  // is full and draining, else looks again.
  void LookAtDrain(const std::shared_ptr<DrainWait>& wait);

  const ChildLinksOptions options_;
  Scheduler& scheduler_;
  const ChildLinkFactory factory_;
  const wire::ControlHandler on_control_;

  mutable absl::Mutex mu_;
  struct Entry {
    std::shared_ptr<ChildSlot> slot;
    wire::Endpoint address;
    // Detaches in a row (reset after twice max_relink_backoff without
    // one), and when the last was.
    int detaches = 0;
    absl::Time last_detach = absl::InfinitePast();
  };
  absl::flat_hash_map<std::string, Entry> children_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_CHILD_LINKS_H_
