#ifndef CANOPY_NODE_LAN_MULTICAST_H_
#define CANOPY_NODE_LAN_MULTICAST_H_

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "node/child_links.h"
#include "node/fan_out.h"
#include "node/flow_repair.h"
#include "node/flow_table.h"
#include "node/multicast_channel.h"
#include "node/parent_links.h"
#include "node/relay_counters.h"
#include "node/scheduler.h"
#include "wire/frame.h"
#include "wire/frame_sender.h"

namespace canopy::node {

struct LanMulticastOptions {
  // Frames received by multicast beyond a gap that wait for the gap to be
  // repaired, per flow (more are dropped and repaired too).
  size_t max_frames_ahead = 4096;
  // A RESUME for the same hole is sent again after this long.
  absl::Duration resume_retry = absl::Seconds(1);
};

// The LAN side of flows carried by native multicast (docs/wire-format.md
// "Native multicast"). Receiving: frames are taken only for a flow this
// node receives by multicast and only from the host of its parent's link;
// a frame beyond a hole waits while the hole is asked of the parent over
// that link (`reliable`), `realtime` flows count the hole; frames that
// outrun the parent's link are held until it says HELLO. Sending: the last
// frame of a flow that went quiet is sent again (kTailResends times,
// kTailQuiet apart), so a receiver that lost the tail of a burst notices.
//
// Thread-safe; OnFrame, OnParentLink and the periodic passes run on the
// relay's I/O thread.
class LanMulticast {
 public:
  static constexpr int kTailResends = 3;
  static constexpr absl::Duration kTailQuiet = absl::Milliseconds(100);

  // The references must outlive this object; `channel` may be null (no
  // LAN multicast: nothing is sent again).
  LanMulticast(LanMulticastOptions options, MulticastChannel* channel, FanOut& fan_out,
               ParentLinks& parents, RelayTally& tally, Scheduler& scheduler);

  // A frame that arrived by LAN multicast from `sender` (an IPv4 address).
  void OnFrame(const FlowTable& table, const wire::FramePtr& frame, const std::string& sender);
  // A parent's link said HELLO: the frames of its flows held until now.
  void OnParentLink(const FlowTable& table);
  // Dispatches the frames waiting in `flow.ahead` that are next in order.
  // REQUIRES: flow.mu held.
  Pressure DispatchAhead(const FlowRoute& route, FlowState& flow);
  // Asks the parent over `link` for the sequences between the last one
  // dispatched and the first one waiting in `flow.ahead` — unless that was
  // asked already (with `retry`: within resume_retry). REQUIRES: flow.mu.
  void AskForHole(const FlowRoute& route, FlowState& flow, wire::FrameSender& link, bool retry);
  // Periodic: asks again for holes still open, and sends quiet tails again.
  void Tick(const FlowTable& table);

 private:
  const LanMulticastOptions options_;
  MulticastChannel* const channel_;
  FanOut& fan_out_;
  ParentLinks& parents_;
  RelayTally& tally_;
  Scheduler& scheduler_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_LAN_MULTICAST_H_
