#ifndef CANOPY_NODE_FAULT_INJECTION_H_
#define CANOPY_NODE_FAULT_INJECTION_H_

#include <atomic>
#include <cstdint>

#include "wire/frame.h"

namespace canopy::node {

// Fault injection for tests and drills (canopy-node --fault-flip-every N):
// every Nth DATA frame handed to local subscribers is a copy with one
// payload bit flipped (and a checksum to match), as if this node's memory
// were bad. The replay ring keeps the intact frame. The relay has none
// unless asked for one.
//
// Thread-safe.
class FaultInjector {
 public:
  // REQUIRES: every > 0.
  explicit FaultInjector(uint64_t every) : every_(every) {}
  // `frame`, or a damaged copy of it.
  wire::FramePtr MaybeCorrupt(const wire::FramePtr& frame);

 private:
  const uint64_t every_;
  std::atomic<uint64_t> count_{0};
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FAULT_INJECTION_H_
