#ifndef CANOPY_NODE_TRAFFIC_COUNTERS_H_
#define CANOPY_NODE_TRAFFIC_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace canopy::node {

// Why the data plane dropped a frame.
enum class DropReason {
  kDuplicate,         // its sequence was already forwarded (two parents, a resend)
  kRealtimeOverflow,  // a `realtime` receiver's queue was full: its oldest frame went
  kDisallowed,        // the group's allow-list refuses its source
  kUnknownFlow,       // no table entry for its flow arrived in time
  kDetached,          // queued for a `reliable` receiver that was detached
  kNotFromParent,     // arrived on a link from a node that is not the flow's parent
};
inline constexpr size_t kDropReasonCount = 6;

// Label value of a reason: "duplicate", "realtime_overflow", "disallowed",
// "unknown_flow", "detached", "not_from_parent".
absl::string_view DropReasonName(DropReason reason);

// What the relay moved and dropped, per group, plus its queue and replay
// ring occupancy: the data plane reports into it, /metrics reads it.
//
// Counting is cheap (a shared lock and relaxed atomic adds); the first use
// of a group takes an exclusive lock once. At most `max_groups` groups are
// tracked separately; later ones are counted together under kOtherGroup so
// that a flood of group names cannot grow memory or metrics without bound.
//
// Thread-safe.
class TrafficCounters {
 public:
  // The group label of traffic beyond `max_groups` (not a valid group name).
  static constexpr absl::string_view kOtherGroup = "(other)";

  // One group's counters: a stable address the data plane keeps (cells are
  // never removed), so counting a frame is a few relaxed atomic adds.
  struct GroupCell {
    std::atomic<uint64_t> bytes_in{0};
    std::atomic<uint64_t> frames_in{0};
    std::atomic<uint64_t> bytes_out{0};
    std::atomic<uint64_t> frames_out{0};
    std::array<std::atomic<uint64_t>, kDropReasonCount> drops{};
    std::atomic<uint64_t> replay_bytes{0};

    void CountIn(uint64_t bytes) {
      frames_in.fetch_add(1, std::memory_order_relaxed);
      bytes_in.fetch_add(bytes, std::memory_order_relaxed);
    }
    void CountOut(uint64_t bytes, uint64_t copies) {
      frames_out.fetch_add(copies, std::memory_order_relaxed);
      bytes_out.fetch_add(bytes * copies, std::memory_order_relaxed);
    }
    void CountDrop(DropReason reason, uint64_t frames = 1) {
      drops[static_cast<size_t>(reason)].fetch_add(frames, std::memory_order_relaxed);
    }
  };

  explicit TrafficCounters(size_t max_groups = 1024);

  // The cell of `group`, created on first use (or the shared overflow
  // cell beyond max_groups). The reference stays valid for the counters'
  // lifetime.
  GroupCell& Cell(absl::string_view group) { return CellOf(group); }
  TrafficCounters(const TrafficCounters&) = delete;
  TrafficCounters& operator=(const TrafficCounters&) = delete;

  // A frame of `group` with `bytes` of payload entered this node (from a
  // parent link or a local publisher).
  void CountIn(absl::string_view group, uint64_t bytes);
  // `copies` copies of a frame of `group` with `bytes` of payload each left
  // this node (to child links and local subscribers).
  void CountOut(absl::string_view group, uint64_t bytes, uint64_t copies = 1);
  // `frames` frames of `group` were dropped for `reason`.
  void CountDrop(absl::string_view group, DropReason reason, uint64_t frames = 1);

  // Bytes queued on the link to child node `peer` now. ForgetLink when the
  // link closes.
  void SetLinkQueueBytes(absl::string_view peer, uint64_t bytes);
  void ForgetLink(absl::string_view peer);
  // Bytes queued for every local subscriber together, now.
  void SetSubscriberQueueBytes(uint64_t bytes);
  // Bytes held in the replay rings of `group`'s flows now.
  void SetReplayBytes(absl::string_view group, uint64_t bytes);

  // A consistent-enough copy for a scrape (each number is read atomically).
  struct GroupTotals {
    uint64_t bytes_in = 0;
    uint64_t frames_in = 0;
    uint64_t bytes_out = 0;
    uint64_t frames_out = 0;
    std::array<uint64_t, kDropReasonCount> drops{};
    uint64_t replay_bytes = 0;
  };
  struct Snapshot {
    std::map<std::string, GroupTotals> groups;
    std::map<std::string, uint64_t> link_queue_bytes;  // peer → bytes
    uint64_t subscriber_queue_bytes = 0;
  };
  Snapshot Take() const;

 private:
  // The group's cell, created on first use (or the shared overflow cell).
  GroupCell& CellOf(absl::string_view group);

  const size_t max_groups_;
  GroupCell other_;
  std::atomic<uint64_t> subscriber_queue_bytes_{0};

  mutable absl::Mutex mu_;
  // Cells are never removed, so references stay valid.
  absl::flat_hash_map<std::string, std::unique_ptr<GroupCell>> groups_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> link_queue_bytes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_TRAFFIC_COUNTERS_H_
