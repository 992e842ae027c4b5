#ifndef CANOPY_NODE_SUBSCRIBER_QUEUE_H_
#define CANOPY_NODE_SUBSCRIBER_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/common.pb.h"
#include "canopy/v1/node.pb.h"
#include "node/forwarding_state.h"
#include "wire/frame.h"

namespace canopy::node {

// One message, or an event (joined, or a source's reachability), waiting
// for a local subscriber.
struct DeliveryItem {
  // Null for an event.
  wire::FramePtr frame;
  std::shared_ptr<const FlowNames> names;
  // Set for a source-status event; an event without it is the joined event.
  std::shared_ptr<const v1::SourceStatus> status = nullptr;
};

// The bounded queue between the data plane and one Subscribe stream.
// The data plane pushes (never blocks); the stream's thread pops. Bounded by
// bytes: the data plane checks OverHighWatermark() after Push() and waits
// with NotifyWhenDrained() (back pressure), detaching the subscriber with
// Close() if it stays full too long.
//
// Thread-safe.
class SubscriberQueue {
 public:
  // `member` names the subscriber where acknowledgements report it
  // missing (SubscribeRequest.member).
  SubscriberQueue(std::string group, v1::SourceFilter filter, size_t high_watermark_bytes,
                  size_t low_watermark_bytes, std::string member = "");
  SubscriberQueue(const SubscriberQueue&) = delete;
  SubscriberQueue& operator=(const SubscriberQueue&) = delete;

  const std::string& group() const { return group_; }
  const v1::SourceFilter& filter() const { return filter_; }
  const std::string& member() const { return member_; }
  // Unique among this process's subscriptions.
  uint64_t id() const { return id_; }

  // Queues an item. Returns false if the queue is closed.
  bool Push(DeliveryItem item);

  // Like Push(), but drops the oldest queued messages to stay within the
  // high watermark, counting them (`realtime` groups).
  bool PushDroppingOldest(DeliveryItem item);
  uint64_t dropped() const;

  // True while queued payload bytes exceed the high watermark.
  bool OverHighWatermark() const;
  // Bytes queued now.
  size_t QueuedBytes() const;
  // Bytes the subscriber took since it joined: whether a full queue still
  // drains.
  uint64_t TakenBytes() const;

  // Runs `ready` once queued bytes fall to the low watermark or the queue
  // closes (at once if so already). `ready` runs on the popping thread or the
  // caller's and must not block.
  void NotifyWhenDrained(std::function<void()> ready);

  // Runs `ready` once the queue holds an item or closes (at once if it
  // does already), on the pushing thread or the caller's: how an
  // asynchronous reader learns there is something to pop. One at a time;
  // a later call replaces an earlier one not yet run. Must not block.
  void NotifyWhenNonEmpty(std::function<void()> ready);

  // Waits up to `timeout` for an item. Returns the item; nullopt on timeout
  // or once closed (then closed_status() says why).
  std::optional<DeliveryItem> Pop(absl::Duration timeout);

  // Like Pop(), but takes every item already queued behind the first, up to
  // `max_items`, and stops once the items taken cost `max_bytes` (at least
  // one is taken). Empty on timeout or once closed.
  std::vector<DeliveryItem> PopBatch(absl::Duration timeout, size_t max_items, size_t max_bytes);

  // Closes the queue: pending items are dropped, Pop returns nullopt.
  void Close(absl::Status why);
  bool closed() const;
  absl::Status closed_status() const;

  // The membership report that first carried this subscription; the joined
  // event is due once the controller acknowledges it. 0 = not reported yet.
  uint64_t join_report_seq() const;
  void set_join_report_seq(uint64_t seq);
  // True once the joined event was queued.
  bool joined() const;
  // Queues the joined event ahead of any message. Idempotent.
  void MarkJoined();

  // The admitted sources the controller cannot bring to this node now
  // (source → why). Once joined, queues a status event for each source
  // newly cut off (or cut off for another reason) and for each that is
  // reachable again; before the join it only remembers them (MarkJoined
  // then tells them).
  void SetCutOff(std::map<std::string, std::string> cut_off);

 private:
  static size_t Cost(const DeliveryItem& item);
  std::vector<std::function<void()>> TakeWaitersIfDrained() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues status events for the difference between cut_off_ and
  // cut_off_told_. REQUIRES: joined_.
  void TellCutOffLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string group_;
  const v1::SourceFilter filter_;
  const std::string member_;
  const uint64_t id_;
  const size_t high_watermark_bytes_;
  const size_t low_watermark_bytes_;

  mutable absl::Mutex mu_;
  std::deque<DeliveryItem> items_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t taken_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_status_ ABSL_GUARDED_BY(mu_);
  uint64_t join_report_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  // What the subscriber should know is cut off, and what it was told.
  std::map<std::string, std::string> cut_off_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> cut_off_told_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> drain_waiters_ ABSL_GUARDED_BY(mu_);
  std::function<void()> nonempty_waiter_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_SUBSCRIBER_QUEUE_H_
