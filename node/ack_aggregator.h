#ifndef CANOPY_NODE_ACK_AGGREGATOR_H_
#define CANOPY_NODE_ACK_AGGREGATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/ack_tally.h"
#include "node/flow_table.h"
#include "node/parent_links.h"
#include "node/scheduler.h"
#include "node/subscriber_queue.h"
#include "wire/ack_frames.h"

namespace canopy::node {

struct AckAggregatorOptions {
  // The first change after a quiet spell goes up at once, later ones within
  // this long in one summary (at most two per flow and `coalesce`); one that
  // can no longer change (every receiver below holds it) goes at once.
  absl::Duration coalesce = absl::Milliseconds(50);
  // Objects remembered per flow (the oldest forgotten first), and how long
  // one nothing is heard of is kept.
  size_t max_objects = 64;
  absl::Duration forget_after = absl::Minutes(10);
  // How long a receiver that left, or a child that left the tree, is named
  // missing in the summaries (AckTally).
  absl::Duration departed_for = absl::Minutes(1);
  // A child sends its parent its roster and the summaries of the objects
  // heard of within `refresh_window` again this often, changed or not: a
  // parent whose table did not name the child yet dropped what it sent.
  absl::Duration refresh_every = absl::Seconds(2);
  absl::Duration refresh_window = absl::Seconds(30);
};

// Delivery acknowledgements on this node (docs/wire-format.md
// "Acknowledgements"): collects the ACKs of local subscribers and the
// ACK_SUMMARY frames of children, one AckTally per flow, and passes each
// flow's summary up to the parent the table names, coalesced, only when
// it changed; at a flow's root (its ingress) the summaries go to the local
// publishers that watch the flow instead. So a publisher with a thousand
// receivers hears a handful of messages per object, not a thousand.
//
// Every node also sends its roster (object 0: who below would
// acknowledge) for every flow of its table, so a parent can name the
// members that are missing; and, every `refresh_every`, its roster and
// recent summaries again, in case its parent's table did not name it yet.
//
// Thread-safe. Frames are sent and watchers called outside the lock.
class AckAggregator {
 public:
  // A flow's summary at its root; must not block.
  using Watcher = std::function<void(const wire::AckSummary&)>;

  // `scheduler`, `parents` and `table` must outlive this object; `table`
  // returns the current compiled table.
  AckAggregator(AckAggregatorOptions options, std::string node_id, Scheduler& scheduler,
                ParentLinks& parents, std::function<std::shared_ptr<const FlowTable>()> table);
  AckAggregator(const AckAggregator&) = delete;
  AckAggregator& operator=(const AckAggregator&) = delete;

  // Local subscriber `who` holds `object_id` of flow (group_handle,
  // source_id) verified. InvalidArgument for a flow of another group or a
  // source its filter does not admit, or object id 0; OK (ignored) for a
  // flow this node no longer carries.
  absl::Status OnLocalAck(const SubscriberQueue& who, uint32_t group_handle, uint32_t source_id,
                          uint64_t object_id);

  // Child `child` sent `summary` for `route`. REQUIRES: the caller checked
  // that the table names `child` as a child of the flow.
  void OnChildSummary(const FlowRoute& route, const std::string& child,
                      const wire::AckSummary& summary);

  // Calls `watcher` with every summary of (group, source) this node has as
  // the flow's root, from now on, until Unwatch(returned id); first, before
  // returning, with the flow's roster where the flow is known.
  uint64_t Watch(const std::string& group, const std::string& source, Watcher watcher);
  void Unwatch(uint64_t id);

  // Call periodically (the relay's tick): takes the local receivers and
  // children of every flow from the table, sends everything again to a
  // parent whose link changed, retries what could not be sent, forgets
  // flows that left the table and objects long idle.
  void Tick();

 private:
  using Key = std::pair<std::string, std::string>;  // (group, source)
  struct Flow {
    Flow(const std::string& node_id, const AckAggregatorOptions& options)
        : tally(node_id, options.max_objects, options.departed_for) {}
    AckTally tally;
    std::set<uint64_t> dirty;  // objects (0: roster) whose summary may have changed
    absl::flat_hash_map<uint64_t, wire::AckSummary> sent;  // last summary sent, per object
    std::weak_ptr<wire::FrameSender> sent_to;               // the parent link they went to
    bool flush_scheduled = false;
    absl::Time next_refresh = absl::InfinitePast();
  };
  // What a flush decided, done outside the lock.
  struct Outgoing {
    std::vector<std::pair<std::shared_ptr<wire::FrameSender>, wire::FramePtr>> frames;
    std::vector<std::pair<Watcher, wire::AckSummary>> calls;
    void Run();
  };

  Flow& FlowFor(const FlowRoute& route) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `object_id` of `route`'s flow may have changed: sends it at once if it
  // is complete, else within `coalesce`.
  void Changed(const FlowRoute& route, Flow& flow, uint64_t object_id, Outgoing& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the dirty summaries of `route`'s flow that changed (only
  // `object_id`'s if given); what cannot be sent stays dirty.
  void Flush(const FlowRoute& route, Flow& flow, Outgoing& out,
             std::optional<uint64_t> object_id = std::nullopt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleFlush(const Key& key, Flow& flow) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushLater(const Key& key);

  const AckAggregatorOptions options_;
  const std::string node_id_;
  Scheduler& scheduler_;
  ParentLinks& parents_;
  const std::function<std::shared_ptr<const FlowTable>()> table_;

  absl::Mutex mu_;
  std::map<Key, Flow> flows_ ABSL_GUARDED_BY(mu_);
  struct Watching {
    Key key;
    Watcher watcher;
  };
  std::map<uint64_t, Watching> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_ACK_AGGREGATOR_H_
