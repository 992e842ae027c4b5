#ifndef CANOPY_NODE_FAN_OUT_H_
#define CANOPY_NODE_FAN_OUT_H_

#include "node/child_links.h"
#include "node/fault_injection.h"
#include "node/flow_repair.h"
#include "node/flow_state.h"
#include "node/flow_table.h"
#include "node/multicast_channel.h"
#include "node/relay_counters.h"
#include "node/scheduler.h"
#include "wire/frame.h"

namespace canopy::node {

// Hands one frame of a flow to every receiver the compiled route names:
// the child links (one shared buffer, no copy), the LAN by one multicast
// datagram train where this node is the designated forwarder, and the local
// subscribers whose filter admits the source. Keeps it in the replay ring
// first and lets pending repairs advance after. `reliable` receivers above
// their high watermark are returned for the caller to wait on; `realtime`
// ones drop their own oldest frames instead (counted).
//
// Thread-safe.
class FanOut {
 public:
  // `multicast` and `faults` may be null (no LAN multicast; no fault
  // injection). The others must outlive this object.
  FanOut(MulticastChannel* multicast, FaultInjector* faults, FlowRepair& repair,
         ReplayBudget& budget, RelayTally& tally, Scheduler& scheduler)
      : multicast_(multicast),
        faults_(faults),
        repair_(repair),
        budget_(budget),
        tally_(tally),
        scheduler_(scheduler) {}

  // REQUIRES: flow.mu held (flow is route.state, or the flow's state when
  // the route is a local-only stand-in).
  Pressure Dispatch(const FlowRoute& route, const wire::FramePtr& frame, FlowState& flow);

 private:
  MulticastChannel* const multicast_;
  FaultInjector* const faults_;
  FlowRepair& repair_;
  ReplayBudget& budget_;
  RelayTally& tally_;
  Scheduler& scheduler_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FAN_OUT_H_
