#ifndef CANOPY_NODE_LOCAL_INTAKE_H_
#define CANOPY_NODE_LOCAL_INTAKE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "node/child_links.h"
#include "node/fan_out.h"
#include "node/flow_states.h"
#include "node/flow_table.h"
#include "node/local_clients.h"
#include "node/traffic_counters.h"
#include "wire/frame.h"

namespace canopy::node {

// Messages of local publishers entering the overlay at this node (their
// ingress): each gets the flow's next sequence number and goes to the
// flow's receivers; before the controller's table names the flow, to local
// subscribers only. Two publishers of one flow never reorder it.
//
// Thread-safe.
class LocalIntake {
 public:
  // The current compiled table.
  using TableSource = std::function<std::shared_ptr<const FlowTable>()>;

  // The references must outlive this object; `traffic` may be null.
  LocalIntake(TableSource table, FlowStates& flows, LocalClients& clients, FanOut& fan_out,
              ChildLinks& children, TrafficCounters* traffic, uint32_t max_payload)
      : table_(std::move(table)),
        flows_(flows),
        clients_(clients),
        fan_out_(fan_out),
        children_(children),
        traffic_(traffic),
        max_payload_(max_payload) {}

  // Sends one message; blocks while a receiver pushes back (at most the
  // detach delay). Returns its sequence number.
  uint64_t PublishLocal(const std::string& group, const std::string& source,
                        absl::string_view payload);

  // The same for a DATA frame a local publisher sent on its client link:
  // verified and restamped with the flow's ids and next sequence in place
  // (no copy of the payload). Returns the sequence, or the frame's error
  // (InvalidArgument, DataLoss), in which case nothing was sent.
  absl::StatusOr<uint64_t> PublishFrame(const std::string& group, const std::string& source,
                                        wire::FrameBuffer frame);

  // Like PublishFrame, but never blocks: `on_drained` runs (on some thread)
  // once the receivers that pushed back drained, or at once — the caller
  // stops reading its publisher meanwhile. Returns the sequence or the
  // frame's error (then `on_drained` never runs).
  absl::StatusOr<uint64_t> PublishFrameAsync(const std::string& group, const std::string& source,
                                             wire::FrameBuffer frame,
                                             std::function<void()> on_drained);

 private:
  // Makes the frame from (group handle, source id, sequence).
  using FrameMaker =
      absl::FunctionRef<absl::StatusOr<wire::FramePtr>(uint32_t, uint32_t, uint64_t)>;
  // Sequence, hand-off, and the receivers that pushed back.
  absl::StatusOr<uint64_t> Ingest(const std::string& group, const std::string& source,
                                  FrameMaker make, Pressure& pressure);

  const TableSource table_;
  FlowStates& flows_;
  LocalClients& clients_;
  FanOut& fan_out_;
  ChildLinks& children_;
  TrafficCounters* const traffic_;
  const uint32_t max_payload_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_LOCAL_INTAKE_H_
