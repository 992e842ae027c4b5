#include "node/replay_ring.h"

#include <utility>

namespace canopy::node {

size_t ReplayRing::Add(wire::FramePtr frame) {
  const size_t size = frame->bytes().size();
  auto [it, inserted] = frames_.try_emplace(frame->header().sequence, std::move(frame));
  if (!inserted) return 0;
  bytes_ += size;
  return size;
}

wire::FramePtr ReplayRing::Get(uint64_t sequence) const {
  auto it = frames_.find(sequence);
  return it == frames_.end() ? nullptr : it->second;
}

std::vector<wire::FramePtr> ReplayRing::Consecutive(uint64_t first, uint64_t last) const {
  std::vector<wire::FramePtr> out;
  uint64_t want = first;
  for (auto it = frames_.find(first); it != frames_.end() && it->first == want; ++it, ++want) {
    if (last != 0 && want > last) break;
    out.push_back(it->second);
  }
  return out;
}

std::optional<uint64_t> ReplayRing::NextHeld(uint64_t sequence) const {
  auto it = frames_.lower_bound(sequence);
  if (it == frames_.end()) return std::nullopt;
  return it->first;
}

std::optional<uint64_t> ReplayRing::oldest() const {
  if (frames_.empty()) return std::nullopt;
  return frames_.begin()->first;
}

size_t ReplayRing::EvictOldest() {
  if (frames_.empty()) return 0;
  const size_t size = frames_.begin()->second->bytes().size();
  frames_.erase(frames_.begin());
  bytes_ -= size;
  return size;
}

size_t ReplayRing::Restamp(uint32_t group_handle, uint32_t source_id) {
  size_t changed = 0;
  for (auto& [sequence, frame] : frames_) {
    const wire::FrameHeader& h = frame->header();
    if (h.group_handle == group_handle && h.source_id == source_id) continue;
    frame = wire::Frame::Make(h.type, group_handle, source_id, h.sequence, frame->payload());
    ++changed;
  }
  return changed;
}

size_t ReplayRing::Clear() {
  const size_t freed = bytes_;
  frames_.clear();
  bytes_ = 0;
  return freed;
}

}  // namespace canopy::node
