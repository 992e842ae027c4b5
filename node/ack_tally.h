#ifndef CANOPY_NODE_ACK_TALLY_H_
#define CANOPY_NODE_ACK_TALLY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "wire/ack_frames.h"

namespace canopy::node {

// A local subscriber of a flow as acknowledgements know it.
struct AckReceiver {
  uint64_t id = 0;     // unique among this node's subscriptions
  std::string member;  // the name its subscription gave

  bool operator==(const AckReceiver&) const = default;
};

// What one node knows of the delivery acknowledgements of one flow
// (docs/wire-format.md "Acknowledgements"): its local receivers and the
// objects each holds, its children in the flow's tree and the summaries
// they sent. Summarize() is what this node tells its parent, or, at the
// flow's root, its local publishers.
//
// A child that never sent anything counts as one missing entry named by
// its node id; one that sent its roster but nothing about an object counts
// with all its receivers missing. A receiver that acknowledged an object
// and left still counts as holding it; so do the receivers a child that
// left the tree last said hold it. One that left without acknowledging it,
// and a child that left the flow's tree, are remembered for `departed_for`
// and named missing (kLeft, kGone: a child by the receivers its last
// summary or roster named at that node, or that had left or gone below
// it, or by itself) meanwhile; they count in `missing`, not in
// `receivers`. Pending receivers of nodes below a child that left are not
// named: those nodes may live on under another parent. A receiver that joins again under the same
// member name is no longer counted as left.
//
// Memory is bounded: at most `max_objects` objects (the oldest forgotten
// first), kMaxDeparted departed receivers and children, kMaxAckNames names
// per child summary.
//
// Thread-compatible; no clock of its own.
class AckTally {
 public:
  static constexpr size_t kMaxDeparted = 64;

  AckTally(std::string node_id, size_t max_objects, absl::Duration departed_for);

  // The local receivers now (sorted by id); true if that changed anything.
  bool SetReceivers(std::vector<AckReceiver> receivers, absl::Time now);
  // The children the table names now (sorted); forgets what others said.
  // True if that changed anything.
  bool SetChildren(std::vector<std::string> children, absl::Time now);

  // Local receiver `who` holds `object_id` (not 0). False if it had said so.
  bool Ack(const AckReceiver& who, uint64_t object_id, absl::Time now);
  // A child's summary (object id 0: its roster). False if nothing changed
  // or `child` is not one of the children (SetChildren).
  bool OnChildSummary(const std::string& child, wire::AckSummary summary, absl::Time now);

  // This subtree's summary of `object_id` (0: the roster).
  wire::AckSummary Summarize(uint64_t object_id) const;
  // True once every child has spoken about `object_id` and nobody below is
  // missing: the summary will not improve.
  bool Complete(uint64_t object_id) const;

  // The objects known, oldest first.
  std::vector<uint64_t> Objects() const;
  // Those of them heard of at or after `since`.
  std::vector<uint64_t> ObjectsSince(absl::Time since) const;
  // Forgets objects nothing was heard of since `before`, and receivers and
  // children that departed more than `departed_for` before `now`. True if
  // a departure was forgotten (summaries change).
  bool ForgetIdle(absl::Time before, absl::Time now);

 private:
  struct Object {
    absl::Time touched;
    uint64_t order = 0;  // arrival, for eviction
    std::map<uint64_t, std::string> local;  // receiver id → member
    absl::flat_hash_map<std::string, wire::AckSummary> children;
    // Children that left the tree, as their last summary of the object
    // stood: those that held it, and those still missing (AfterLeaving).
    absl::flat_hash_map<std::string, wire::AckSummary> gone;
  };
  // A receiver that left, or a child that left the tree (named by the
  // members its last roster named, or by itself).
  struct Departed {
    absl::Time when;
    uint64_t receiver_id = 0;  // 0 for a child
    std::string child;
    std::vector<wire::AckMissing> names;
    uint32_t count = 1;  // missing entries it stands for
  };
  Object& ObjectFor(uint64_t object_id, absl::Time now);
  void AddDeparted(Departed d);

  const std::string node_id_;
  const size_t max_objects_;
  const absl::Duration departed_for_;
  std::vector<Departed> departed_;  // oldest first
  std::vector<AckReceiver> receivers_;
  std::vector<std::string> children_;
  absl::flat_hash_map<std::string, wire::AckSummary> rosters_;  // by child
  absl::flat_hash_map<uint64_t, Object> objects_;
  uint64_t next_order_ = 0;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_ACK_TALLY_H_
