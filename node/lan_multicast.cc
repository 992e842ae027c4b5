#include "node/lan_multicast.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "wire/control_frames.h"
#include "wire/log_throttle.h"

namespace canopy::node {

LanMulticast::LanMulticast(LanMulticastOptions options, MulticastChannel* channel, FanOut& fan_out,
                           ParentLinks& parents, RelayTally& tally, Scheduler& scheduler)
    : options_(options),
      channel_(channel),
      fan_out_(fan_out),
      parents_(parents),
      tally_(tally),
      scheduler_(scheduler) {}

void LanMulticast::OnFrame(const FlowTable& table, const wire::FramePtr& frame,
                           const std::string& sender) {
  const wire::FrameHeader& h = frame->header();
  if (h.type != wire::FrameType::kData) return;
  const FlowRoute* route = table.Find(h.group_handle, h.source_id);
  if (route == nullptr || route->entry.multicast_group().empty() || route->entry.multicast_emit() ||
      route->parent().empty()) {
    return;  // a flow this node does not receive by multicast (another group on the address)
  }
  FlowState& flow = *route->state;
  // Only the parent's host may feed the flow: its link's remote address.
  std::shared_ptr<wire::FrameSender> link =
      parents_.Find(route->parent(), route->entry.parent_token());
  if (link == nullptr) {
    // The multicast copy outran the parent's link: hold it until the link
    // says who the parent is (OnParentLink).
    absl::MutexLock flow_lock(&flow.mu);
    if (flow.before_parent_link.size() < options_.max_frames_ahead) {
      flow.before_parent_link.emplace_back(frame, sender);
    }
    return;
  }
  const std::string remote = link->remote_address();
  const std::string parent_host = remote.substr(0, remote.rfind(':'));
  if (parent_host != sender) {
    if (route->counters != nullptr) route->counters->CountDrop(DropReason::kNotFromParent);
    if (wire::WorthALogLine(RelayTally::Add(tally_.not_from_parent_dropped))) {
      spdlog::warn("dropping multicast DATA of group {} from {}: its parent {} is at {}",
                   route->group(), sender, route->parent(), parent_host);
    }
    return;
  }
  if (!route->allowed.ok()) {
    if (route->counters != nullptr) route->counters->CountDrop(DropReason::kDisallowed);
    RelayTally::Add(tally_.disallowed_dropped);
    return;
  }
  if (route->counters != nullptr) route->counters->CountIn(frame->payload().size());
  absl::MutexLock flow_lock(&flow.mu);
  RelayTally::Add(tally_.multicast_frames_received);
  if (flow.parent.empty()) flow.parent = route->parent();
  if (h.sequence <= flow.last) {
    if (route->counters != nullptr) route->counters->CountDrop(DropReason::kDuplicate);
    RelayTally::Add(tally_.duplicates_dropped);
    return;
  }
  // As on a link: before any frame, the flow continues after what was asked
  // for (0: its start), not at the first datagram heard.
  const uint64_t from = flow.last != 0 ? flow.last : flow.resume_asked_after;
  if (h.sequence == from + 1 || route->realtime) {
    if (route->realtime && flow.last != 0 && h.sequence > flow.last + 1) {
      RelayTally::Add(tally_.sequences_lost, h.sequence - flow.last - 1);  // counted, not repaired
    }
    flow.last = h.sequence;
    fan_out_.Dispatch(*route, frame, flow);
    DispatchAhead(*route, flow);
    AskForHole(*route, flow, *link, /*retry=*/false);  // the next one, if any
    return;                                            // no back pressure on a datagram stream
  }
  // A hole: hold this frame and ask the parent (over its unicast link) for
  // the missing range only.
  if (flow.ahead.size() < options_.max_frames_ahead) flow.ahead.emplace(h.sequence, frame);
  AskForHole(*route, flow, *link, /*retry=*/false);
}

void LanMulticast::OnParentLink(const FlowTable& table) {
  for (const FlowRoute* route : table.routes()) {
    std::vector<std::pair<wire::FramePtr, std::string>> held;
    {
      absl::MutexLock flow_lock(&route->state->mu);
      held.swap(route->state->before_parent_link);
    }
    for (auto& [frame, sender] : held) OnFrame(table, frame, sender);
  }
}

Pressure LanMulticast::DispatchAhead(const FlowRoute& route, FlowState& flow) {
  Pressure pressure;
  while (!flow.ahead.empty() && flow.ahead.begin()->first <= flow.last + 1) {
    auto node = flow.ahead.extract(flow.ahead.begin());
    if (node.key() <= flow.last) continue;  // came meanwhile by the repair
    flow.last = node.key();
    pressure.Absorb(fan_out_.Dispatch(route, node.mapped(), flow));
  }
  return pressure;
}

void LanMulticast::AskForHole(const FlowRoute& route, FlowState& flow, wire::FrameSender& link,
                              bool retry) {
  if (flow.ahead.empty()) return;
  const uint64_t missing_until = flow.ahead.begin()->first - 1;
  if (missing_until <= flow.last) return;
  const absl::Time now = scheduler_.Now();
  if (flow.resume_asked_after == flow.last &&
      (!retry || now - flow.resume_asked_at < options_.resume_retry)) {
    return;  // asked already; the periodic pass asks again if nothing comes
  }
  flow.resume_asked_after = flow.last;
  flow.resume_asked_at = now;
  link.Send(wire::MakeResume({route.group_handle(), route.source_id(), flow.last, missing_until}));
  RelayTally::Add(tally_.resumes_sent);
  flow.resumes_sent.fetch_add(1, std::memory_order_relaxed);
  const uint64_t asked = RelayTally::Add(tally_.multicast_repairs_asked);
  if (asked == 1 || asked % 100 == 0) {
    spdlog::info(
        "asks {} for sequences {}..{} of ({}, {}) lost on the LAN (repairs multicast gap #{})",
        route.parent(), flow.last + 1, missing_until, route.group(), route.source(), asked);
  }
}

void LanMulticast::Tick(const FlowTable& table) {
  const absl::Time now = scheduler_.Now();
  for (const FlowRoute* route : table.routes()) {
    FlowState& flow = *route->state;
    absl::MutexLock flow_lock(&flow.mu);
    if (!flow.ahead.empty() && !route->retired) {
      if (std::shared_ptr<wire::FrameSender> link =
              parents_.Find(route->parent(), route->entry.parent_token())) {
        AskForHole(*route, flow, *link, /*retry=*/true);
      }
    }
    if (channel_ == nullptr || !flow.multicast_tail) continue;
    FlowState::MulticastTail& tail = *flow.multicast_tail;
    if (now - tail.sent_at < kTailQuiet) continue;
    if (tail.resent >= kTailResends) {
      flow.multicast_tail.reset();
      continue;
    }
    channel_->Send(tail.group, tail.ttl, *tail.frame).IgnoreError();
    tail.sent_at = now;
    ++tail.resent;
  }
}

}  // namespace canopy::node
