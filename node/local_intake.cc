#include "node/local_intake.h"

#include "absl/synchronization/notification.h"

namespace canopy::node {

absl::StatusOr<uint64_t> LocalIntake::Ingest(const std::string& group, const std::string& source,
                                             FrameMaker make, Pressure& pressure) {
  const std::shared_ptr<const FlowTable> table = table_();
  const FlowRoute* route = table->Find(group, source);
  // Before the table names the flow: local delivery only, through a
  // stand-in route without children.
  FlowRoute standin;
  std::shared_ptr<FlowState> state;
  if (route == nullptr) {
    standin.names = std::make_shared<const FlowNames>(FlowNames{group, source});
    standin.subscribers = clients_.GroupOf(group);
    standin.counters = traffic_ != nullptr ? &traffic_->Cell(group) : nullptr;
    state = flows_.Get(group, source);
    route = &standin;
  }
  FlowState& flow = route->state != nullptr ? *route->state : *state;
  // Sequence and hand-off under the flow's lock: two local publishers of
  // one flow must not reorder it.
  absl::MutexLock publishing(&flow.mu);
  const uint64_t sequence = flow.last + 1;
  // Without a current entry (the controller is away, or has not planned
  // the flow yet) the ids it named last, if any.
  absl::StatusOr<wire::FramePtr> frame =
      route == &standin ? make(flow.group_handle, flow.source_id, sequence)
                        : make(route->entry.group_handle(), route->entry.source_id(), sequence);
  if (!frame.ok()) return frame.status();
  flow.last = sequence;
  if (route->counters != nullptr) route->counters->CountIn((*frame)->payload().size());
  pressure = fan_out_.Dispatch(*route, *frame, flow);
  return sequence;
}

uint64_t LocalIntake::PublishLocal(const std::string& group, const std::string& source,
                                   absl::string_view payload) {
  Pressure pressure;
  absl::StatusOr<uint64_t> sequence = Ingest(
      group, source,
      [payload](uint32_t handle, uint32_t id, uint64_t seq) {
        return absl::StatusOr<wire::FramePtr>(
            wire::Frame::Make(wire::FrameType::kData, handle, id, seq, payload));
      },
      pressure);
  if (!pressure.empty()) {
    absl::Notification drained;
    children_.AwaitDrain(std::move(pressure), [&drained] { drained.Notify(); });
    drained.WaitForNotification();
  }
  return *sequence;  // Make() cannot fail
}

absl::StatusOr<uint64_t> LocalIntake::PublishFrame(const std::string& group,
                                                   const std::string& source,
                                                   wire::FrameBuffer frame) {
  absl::Notification drained;
  absl::StatusOr<uint64_t> sequence =
      PublishFrameAsync(group, source, std::move(frame), [&drained] { drained.Notify(); });
  if (sequence.ok()) drained.WaitForNotification();
  return sequence;
}

absl::StatusOr<uint64_t> LocalIntake::PublishFrameAsync(const std::string& group,
                                                        const std::string& source,
                                                        wire::FrameBuffer frame,
                                                        std::function<void()> on_drained) {
  Pressure pressure;
  absl::StatusOr<uint64_t> sequence = Ingest(
      group, source,
      [&](uint32_t handle, uint32_t id, uint64_t seq) {
        return wire::Frame::Restamp(std::move(frame), max_payload_, handle, id, seq);
      },
      pressure);
  if (!sequence.ok()) return sequence;
  children_.AwaitDrain(std::move(pressure), std::move(on_drained));
  return sequence;
}

}  // namespace canopy::node
