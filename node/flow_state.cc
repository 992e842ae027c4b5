#include "node/flow_state.h"

namespace canopy::node {

void RepairTarget::Send(const wire::FramePtr& frame) const {
  if (link) {
    link->Send(frame);
  } else {
    subscriber->Push(DeliveryItem{frame, names});
  }
}

void ReplayBudget::Remember(FlowState& flow, const wire::FramePtr& frame) {
  const size_t added = flow.ring.Add(frame);
  uint64_t total = bytes_.fetch_add(added, std::memory_order_relaxed) + added;
  while (total > max_bytes_ && flow.ring.frames() > 1) {
    const size_t freed = flow.ring.EvictOldest();
    total = bytes_.fetch_sub(freed, std::memory_order_relaxed) - freed;
  }
}

}  // namespace canopy::node
