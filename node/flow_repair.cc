#include "node/flow_repair.h"

#include <algorithm>
#include <vector>

#include "spdlog/spdlog.h"

namespace canopy::node {
namespace {

// The first sequence from `sequence` on that `ring` holds, or `last` + 1 if
// it holds none up to the flow's newest.
uint64_t FirstHeldFrom(const ReplayRing& ring, uint64_t sequence, uint64_t last) {
  return std::min(ring.NextHeld(sequence).value_or(last + 1), last + 1);
}

// Tells a repair's receiver that [first, next) is lost: a GAP to a child;
// a subscriber simply does not get the range (its resend fails).
void SendGap(const RepairTarget& target, const FlowRoute& route, uint64_t first, uint64_t next) {
  if (target.link) {
    target.link->Send(wire::MakeGap({route.group_handle(), route.source_id(), first, next}));
  }
}

}  // namespace

FlowRepair::FlowRepair(FlowRepairOptions options, Scheduler& scheduler, ParentLinks& parents,
                       ReplayBudget& budget, RelayTally& tally)
    : options_(options), scheduler_(scheduler), parents_(parents), budget_(budget), tally_(tally) {}

bool FlowRepair::AskParent(const FlowRoute& route, uint64_t first, uint64_t last) {
  if (last != 0 && last < first) return false;
  std::shared_ptr<wire::FrameSender> link =
      parents_.Find(route.parent(), route.entry.parent_token());
  if (link == nullptr) return false;
  RelayTally::Add(tally_.resumes_sent);
  if (route.state != nullptr) route.state->resumes_sent.fetch_add(1, std::memory_order_relaxed);
  link->Send(wire::MakeResume({route.group_handle(), route.source_id(), first - 1, last}));
  return true;
}

void FlowRepair::ServeResume(const FlowRoute& route, FlowState& flow, RepairTarget target,
                             uint64_t after, uint64_t until) {
  RelayTally::Add(tally_.resumes_served);
  // One repair per receiver and flow: a newer request replaces an older one.
  std::erase_if(flow.repairs,
                [&](const FlowState::Repair& r) { return r.target.link == target.link; });
  const uint64_t end = until == 0 ? flow.last : std::min(until, flow.last);
  const absl::Time now = scheduler_.Now();
  FlowState::Repair repair;
  repair.next = after + 1;
  repair.until = until;
  repair.deadline = now + options_.repair_timeout;
  const std::string who = target.who();
  repair.target = std::move(target);
  if (after >= end) {
    if (until != 0 && after >= until) return;  // asks for nothing
    // This node is not ahead of the receiver (it just joined the flow or
    // restarted). Follow the flow for it from `after`, and ask this node's
    // parent to resend from there: otherwise nothing would come until the
    // source sends again.
    const uint64_t from = flow.last != 0 ? flow.last : after;
    if (flow.resume_asked_after != from || now - flow.resume_asked_at >= options_.resume_retry) {
      if (AskParent(route, from + 1, /*last=*/0)) {
        flow.resume_asked_after = from;
        flow.resume_asked_at = now;
      }
    }
    spdlog::info(
        "child {} resumes flow ({}, {}) after sequence {}; this node is at {} and asks its parent",
        who, route.group(), route.source(), after, flow.last);
    flow.repairs.push_back(std::move(repair));
    return;
  }
  spdlog::info("child {} resumes flow ({}, {}) after sequence {}; this node is at {}", who,
               route.group(), route.source(), after, flow.last);
  flow.repairs.push_back(std::move(repair));
  Advance(&route, flow);
}

void FlowRepair::ResendToSubscriber(const FlowRoute& route, FlowState& flow, RepairTarget target,
                                    uint64_t after, uint64_t until) {
  FlowState::Repair repair;
  repair.next = after + 1;
  repair.until = std::min(until, flow.last);
  if (repair.until < repair.next) return;  // nothing delivered yet to resend
  repair.deadline = scheduler_.Now() + options_.repair_timeout;
  repair.target = std::move(target);
  flow.repairs.push_back(std::move(repair));
  RelayTally::Add(tally_.resumes_served);
  Advance(&route, flow);
}

void FlowRepair::Feed(FlowState& flow) {
  uint64_t replayed = 0;
  const absl::Time now = scheduler_.Now();
  std::erase_if(flow.repairs, [&](FlowState::Repair& r) {
    if (r.target.closed()) return true;
    const uint64_t end = r.until == 0 ? flow.last : std::min(r.until, flow.last);
    std::vector<wire::FramePtr> run = flow.ring.Consecutive(r.next, end);
    for (const wire::FramePtr& f : run) r.target.Send(f);
    if (!run.empty()) r.deadline = now + options_.repair_timeout;  // progress
    r.next += run.size();
    replayed += run.size();
    return r.next > end;
  });
  if (replayed > 0) RelayTally::Add(tally_.frames_replayed, replayed);
}

void FlowRepair::Advance(const FlowRoute* route, FlowState& flow) {
  Feed(flow);
  if (flow.repairs.empty()) return;
  const absl::Time now = scheduler_.Now();
  bool expire_now = false;
  for (FlowState::Repair& r : flow.repairs) {
    if (r.next <= r.asked_until || flow.ring.Get(r.next) != nullptr) continue;
    if (r.next > flow.last) continue;  // waits for frames this node has not had yet
    // Stuck: ask upstream for what is missing up to the next frame held.
    const uint64_t held = FirstHeldFrom(flow.ring, r.next, flow.last);
    r.asked_until = held - 1;
    r.deadline = now + options_.repair_timeout;
    if (route == nullptr || route->parent().empty() || !AskParent(*route, r.next, held - 1)) {
      r.deadline = absl::InfinitePast();  // nobody further up: lost
      expire_now = true;
    }
  }
  if (expire_now && route != nullptr) Expire(*route, flow);
}

bool FlowRepair::TakeOldFrame(const FlowRoute& route, FlowState& flow,
                              const wire::FramePtr& frame) {
  const uint64_t sequence = frame->header().sequence;
  if (flow.repairs.empty() || flow.ring.Get(sequence) != nullptr) return false;
  for (FlowState::Repair& r : flow.repairs) {
    if (r.next == sequence && !r.target.closed()) {
      r.target.Send(frame);
      ++r.next;
    }
  }
  budget_.Remember(flow, frame);
  Advance(&route, flow);
  return true;
}

bool FlowRepair::AskAfterGap(const FlowRoute& route, FlowState& flow, wire::FrameSender& parent) {
  const uint64_t from = flow.last != 0 ? flow.last : flow.resume_asked_after;
  const absl::Time now = scheduler_.Now();
  const bool ask =
      flow.resume_asked_after != from || now - flow.resume_asked_at >= options_.resume_retry;
  if (!ask) return false;
  flow.resume_asked_after = from;
  flow.resume_asked_at = now;
  parent.Send(wire::MakeResume({route.group_handle(), route.source_id(), from, /*until=*/0}));
  RelayTally::Add(tally_.resumes_sent);
  flow.resumes_sent.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void FlowRepair::Expire(const FlowRoute& route, FlowState& flow) {
  const absl::Time now = scheduler_.Now();
  uint64_t lost = 0;
  for (FlowState::Repair& r : flow.repairs) {
    if (now < r.deadline) continue;
    if (r.target.closed() || flow.ring.Get(r.next) != nullptr) continue;
    const uint64_t next = FirstHeldFrom(flow.ring, r.next, flow.last);
    if (next <= r.next) continue;
    spdlog::warn("flow ({}, {}): sequences [{}, {}) are held nowhere upstream; telling {}",
                 route.group(), route.source(), r.next, next, r.target.who());
    SendGap(r.target, route, r.next, next);
    lost += next - r.next;
    r.next = next;
    r.asked_until = 0;
    r.deadline = now + options_.repair_timeout;
  }
  Feed(flow);
  if (lost > 0) RelayTally::Add(tally_.sequences_lost, lost);
}

void FlowRepair::OnGap(const FlowRoute& route, FlowState& flow, const wire::GapNotice& gap,
                       const wire::FramePtr& frame) {
  if (gap.first <= flow.last + 1 && gap.next > flow.last + 1) {
    // This node's own next frames are lost upstream: skip them, and pass
    // the notice on so the children skip them too. Subscribers see the
    // jump in sequence numbers.
    spdlog::warn("flow ({}, {}): sequences [{}, {}) were lost upstream", route.group(),
                 route.source(), flow.last + 1, gap.next);
    RelayTally::Add(tally_.sequences_lost, gap.next - (flow.last + 1));
    flow.last = gap.next - 1;
    for (const FlowRoute::Child& child : route.children) {
      if (std::shared_ptr<wire::QueuedLink> link = child.slot->link()) link->Send(frame);
    }
  }
  // Receivers waiting for the range skip it as well.
  for (FlowState::Repair& r : flow.repairs) {
    if (r.next >= gap.first && r.next < gap.next) {
      SendGap(r.target, route, r.next, gap.next);
      r.next = gap.next;
    }
  }
  Advance(&route, flow);
}

void FlowRepair::ResumeFromParent(const FlowRoute& route, FlowState& flow,
                                  wire::FrameSender& link) {
  uint64_t from = flow.last;
  if (from == 0) {
    for (const FlowState::Repair& r : flow.repairs) {
      if (r.next > 0 && (from == 0 || r.next - 1 < from)) from = r.next - 1;
    }
  }
  if (from == 0) from = flow.resume_asked_after;
  flow.parent = route.parent();
  if (route.realtime && from == 0) return;  // realtime: nothing to resume from
  flow.resume_asked_after = from;
  flow.resume_asked_at = scheduler_.Now();
  spdlog::debug("flow ({}, {}): RESUME after {} to {}", route.group(), route.source(), from,
                route.parent());
  link.Send(wire::MakeResume({route.group_handle(), route.source_id(), from, /*until=*/0}));
  RelayTally::Add(tally_.resumes_sent);
  flow.resumes_sent.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace canopy::node
