#ifndef CANOPY_NODE_FLOW_REPAIR_H_
#define CANOPY_NODE_FLOW_REPAIR_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "node/flow_state.h"
#include "node/flow_table.h"
#include "node/parent_links.h"
#include "node/relay_counters.h"
#include "node/scheduler.h"
#include "wire/control_frames.h"
#include "wire/frame_sender.h"

namespace canopy::node {

struct FlowRepairOptions {
  // A receiver's repair this node cannot serve from its ring is asked of
  // its own parent; with no progress within this time the missing range is
  // declared lost (GAP) to the receiver.
  absl::Duration repair_timeout = absl::Seconds(2);
  // A RESUME for the same gap is sent again after this long.
  absl::Duration resume_retry = absl::Seconds(1);
};

// Lossless repair of flows (docs/wire-format.md "Replay, resume and gaps"):
// serves a child's RESUME (or a local subscriber's resend) from the replay
// ring, asks this node's own parent for what the ring lacks, declares lost
// (GAP) only a range nobody holds, asks the parent to resend after a gap in
// what arrives, and passes GAP notices on.
//
// Every method that takes a FlowState requires its `mu` held: the caller
// serialises each flow. Thread-safe otherwise.
class FlowRepair {
 public:
  // The references must outlive this object.
  FlowRepair(FlowRepairOptions options, Scheduler& scheduler, ParentLinks& parents,
             ReplayBudget& budget, RelayTally& tally);
  FlowRepair(const FlowRepair&) = delete;
  FlowRepair& operator=(const FlowRepair&) = delete;

  // A child asks for the frames (after, until] (until 0: then follow the
  // live flow). One repair per receiver: a newer request replaces an older.
  void ServeResume(const FlowRoute& route, FlowState& flow, RepairTarget target, uint64_t after,
                   uint64_t until);

  // A local subscriber asks for (after, until] again; what the ring lacks
  // is asked of the parent. What nobody holds does not come.
  void ResendToSubscriber(const FlowRoute& route, FlowState& flow, RepairTarget target,
                          uint64_t after, uint64_t until);

  // After a frame was kept in the ring: sends each repair what the ring now
  // holds for it and asks the parent for what one is stuck on (once per
  // range); with no parent to ask (`route` null or the ingress) the range
  // is declared lost at once.
  void Advance(const FlowRoute* route, FlowState& flow);

  // A frame at or below the flow's last sequence arrived from the parent:
  // if a repair waits for it (this node asked on a receiver's behalf) it is
  // kept and passed on, and true is returned; false means a duplicate.
  bool TakeOldFrame(const FlowRoute& route, FlowState& flow, const wire::FramePtr& frame);

  // A frame above the next expected arrived from `parent` (a gap, or a
  // first frame that is not the flow's start): asks `parent` to resend
  // from where the flow must continue — again after resume_retry if the
  // gap persists. Returns true if a RESUME went out.
  bool AskAfterGap(const FlowRoute& route, FlowState& flow, wire::FrameSender& parent);

  // The parent declared [gap.first, gap.next) lost: skips it if it covers
  // this node's next sequence (counted) and passes `frame` to the flow's
  // children; repairs waiting in the range skip it too.
  void OnGap(const FlowRoute& route, FlowState& flow, const wire::GapNotice& gap,
             const wire::FramePtr& frame);

  // Declares lost, to each repair whose deadline passed, the range up to the
  // next frame the ring holds; then advances.
  void Expire(const FlowRoute& route, FlowState& flow);

  // Sends RESUME to the flow's parent over `link` so it resends what this
  // node lacks: from the last frame delivered, or before any, from where its
  // waiting repairs stopped or what it asked before (0: the flow's start).
  // A `realtime` flow that has had nothing is not resumed.
  void ResumeFromParent(const FlowRoute& route, FlowState& flow, wire::FrameSender& link);

  // Asks this node's parent for [first, last] of the flow (last 0: from
  // `first` on, then the live flow); false if there is no link from it.
  bool AskParent(const FlowRoute& route, uint64_t first, uint64_t last);

 private:
  // Sends each repair what the ring holds for it; drops finished ones.
  void Feed(FlowState& flow);

  const FlowRepairOptions options_;
  Scheduler& scheduler_;
  ParentLinks& parents_;
  ReplayBudget& budget_;
  RelayTally& tally_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FLOW_REPAIR_H_
