#ifndef CANOPY_NODE_REPLAY_RING_H_
#define CANOPY_NODE_REPLAY_RING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "wire/frame.h"

namespace canopy::node {

// The recent DATA frames of one flow, by sequence, so a child that moved to
// this node (or fell behind) can be sent what it missed. Holds shared
// frames: nothing is copied. The owner bounds it by calling EvictOldest().
//
// Thread-compatible.
class ReplayRing {
 public:
  // Adds a frame (any order; a sequence already held is ignored). Returns
  // the bytes added (0 if ignored).
  size_t Add(wire::FramePtr frame);

  // The frame with `sequence`, or null.
  wire::FramePtr Get(uint64_t sequence) const;

  // The frames from `first` on, in order, for as long as the sequences are
  // consecutive, and not past `last` (0 = no bound).
  std::vector<wire::FramePtr> Consecutive(uint64_t first, uint64_t last) const;

  // Lowest sequence held that is >= `sequence`; nullopt if none.
  std::optional<uint64_t> NextHeld(uint64_t sequence) const;

  // Lowest sequence held; nullopt when empty.
  std::optional<uint64_t> oldest() const;

  // Drops the oldest frame; returns its bytes (0 when empty).
  size_t EvictOldest();

  // Drops everything; returns the bytes freed.
  size_t Clear();

  // Gives every frame held the flow ids (group handle, source id) where it
  // carries others (frames a local publisher sent before the controller
  // named the flow's ids): a re-encoded copy replaces it. Returns how many.
  size_t Restamp(uint32_t group_handle, uint32_t source_id);

  size_t bytes() const { return bytes_; }
  size_t frames() const { return frames_.size(); }

 private:
  absl::btree_map<uint64_t, wire::FramePtr> frames_;
  size_t bytes_ = 0;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_REPLAY_RING_H_
