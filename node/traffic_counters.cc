#include "node/traffic_counters.h"

#include <utility>

namespace canopy::node {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kRealtimeOverflow:
      return "realtime_overflow";
    case DropReason::kDisallowed:
      return "disallowed";
    case DropReason::kUnknownFlow:
      return "unknown_flow";
    case DropReason::kDetached:
      return "detached";
    case DropReason::kNotFromParent:
      return "not_from_parent";
  }
  return "unknown";
}

TrafficCounters::TrafficCounters(size_t max_groups) : max_groups_(max_groups) {}

TrafficCounters::GroupCell& TrafficCounters::CellOf(absl::string_view group) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = groups_.find(group); it != groups_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  if (auto it = groups_.find(group); it != groups_.end()) return *it->second;
  if (groups_.size() >= max_groups_) return other_;
  auto [it, inserted] = groups_.emplace(std::string(group), std::make_unique<GroupCell>());
  return *it->second;
}

void TrafficCounters::CountIn(absl::string_view group, uint64_t bytes) {
  CellOf(group).CountIn(bytes);
}

void TrafficCounters::CountOut(absl::string_view group, uint64_t bytes, uint64_t copies) {
  CellOf(group).CountOut(bytes, copies);
}

void TrafficCounters::CountDrop(absl::string_view group, DropReason reason, uint64_t frames) {
  const size_t index = static_cast<size_t>(reason);
  if (index >= kDropReasonCount) return;
  CellOf(group).drops[index].fetch_add(frames, kRelaxed);
}

void TrafficCounters::SetLinkQueueBytes(absl::string_view peer, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  auto it = link_queue_bytes_.find(peer);
  if (it == link_queue_bytes_.end()) {
    link_queue_bytes_.emplace(std::string(peer), bytes);
  } else {
    it->second = bytes;
  }
}

void TrafficCounters::ForgetLink(absl::string_view peer) {
  absl::MutexLock lock(&mu_);
  if (auto it = link_queue_bytes_.find(peer); it != link_queue_bytes_.end()) {
    link_queue_bytes_.erase(it);
  }
}

void TrafficCounters::SetSubscriberQueueBytes(uint64_t bytes) {
  subscriber_queue_bytes_.store(bytes, kRelaxed);
}

void TrafficCounters::SetReplayBytes(absl::string_view group, uint64_t bytes) {
  CellOf(group).replay_bytes.store(bytes, kRelaxed);
}

TrafficCounters::Snapshot TrafficCounters::Take() const {
  auto copy = [](const GroupCell& cell) {
    GroupTotals t;
    t.bytes_in = cell.bytes_in.load(kRelaxed);
    t.frames_in = cell.frames_in.load(kRelaxed);
    t.bytes_out = cell.bytes_out.load(kRelaxed);
    t.frames_out = cell.frames_out.load(kRelaxed);
    for (size_t i = 0; i < kDropReasonCount; ++i) t.drops[i] = cell.drops[i].load(kRelaxed);
    t.replay_bytes = cell.replay_bytes.load(kRelaxed);
    return t;
  };
  Snapshot snapshot;
  snapshot.subscriber_queue_bytes = subscriber_queue_bytes_.load(kRelaxed);
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [group, cell] : groups_) snapshot.groups.emplace(group, copy(*cell));
  if (groups_.size() >= max_groups_) {
    snapshot.groups.emplace(std::string(kOtherGroup), copy(other_));
  }
  for (const auto& [peer, bytes] : link_queue_bytes_)
    snapshot.link_queue_bytes.emplace(peer, bytes);
  return snapshot;
}

}  // namespace canopy::node
