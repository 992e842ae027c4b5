#include "node/fault_injection.h"

#include <string>

#include "spdlog/spdlog.h"

namespace canopy::node {

wire::FramePtr FaultInjector::MaybeCorrupt(const wire::FramePtr& frame) {
  if (frame->payload().empty()) return frame;
  if (count_.fetch_add(1, std::memory_order_relaxed) % every_ != every_ - 1) return frame;
  // As if this node's memory flipped a bit after the frame was verified:
  // the copy carries a checksum that matches its damaged payload.
  std::string payload(frame->payload());
  payload[payload.size() / 2] ^= 0x01;
  const wire::FrameHeader& h = frame->header();
  spdlog::warn("fault injection: flipped a bit of ({}, {}) sequence {} for local subscribers",
               h.group_handle, h.source_id, h.sequence);
  return wire::Frame::Make(h.type, h.group_handle, h.source_id, h.sequence, payload);
}

}  // namespace canopy::node
