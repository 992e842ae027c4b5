#include "node/relay.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "spdlog/spdlog.h"
#include "wire/ack_frames.h"
#include "wire/control_frames.h"
#include "wire/log_throttle.h"
#include "wire/outbound_link.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {
constexpr auto kTickInterval = std::chrono::milliseconds(250);
}  // namespace

Relay::Relay(RelayOptions options, ForwardingState& state, LocalClients& clients)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      work_(asio::make_work_guard(io_)),
      tick_timer_(io_),
      scheduler_(io_),
      budget_(options_.replay_bytes),
      faults_(options_.fault_flip_every > 0
                  ? std::make_unique<FaultInjector>(options_.fault_flip_every)
                  : nullptr),
      children_(
          ChildLinksOptions{options_.detach_after, absl::Milliseconds(250)}, scheduler_,
          [this](const std::string& node_id, const wire::Endpoint& address,
                 wire::ControlHandler on_control,
                 std::function<void(const absl::Status&)> on_closed)
              -> std::shared_ptr<wire::QueuedLink> {
            wire::OutboundLinkOptions link_options;
            link_options.local_node_id = options_.node_id;
            link_options.link_token = options_.link_token;
            link_options.high_watermark_bytes = options_.link_high_watermark_bytes;
            link_options.low_watermark_bytes = options_.link_low_watermark_bytes;
            link_options.tls = options_.link_tls;
            link_options.on_control = std::move(on_control);
            return wire::OutboundLink::Start(io_, node_id, address, link_options,
                                             std::move(on_closed));
          },
          [this](wire::FramePtr frame, const std::shared_ptr<wire::QueuedLink>& link) {
            OnChildControl(std::move(frame), link);
          }),
      repair_(FlowRepairOptions{options_.repair_timeout, options_.resume_retry}, scheduler_,
              parents_, budget_, tally_),
      fan_out_(options_.multicast, faults_.get(), repair_, budget_, tally_, scheduler_),
      lan_(LanMulticastOptions{options_.max_frames_ahead, options_.resume_retry},
           options_.multicast, fan_out_, parents_, tally_, scheduler_),
      intake_([this] { return table(); }, flows_, clients_, fan_out_, children_, options_.traffic,
              options_.max_payload),
      acks_(AckAggregatorOptions{}, options_.node_id, scheduler_, parents_,
            [this] { return table(); }),
      table_(std::make_shared<const FlowTable>()) {}

Relay::~Relay() { Stop(); }

absl::StatusOr<wire::Endpoint> Relay::Start(const wire::Endpoint& data_address) {
  auto listener = wire::LinkListener::Open(
      io_, data_address, options_.max_payload,
      [this](wire::FramePtr frame, wire::InboundLink& link) {
        OnInboundFrame(std::move(frame), link);
      },
      options_.link_limits, options_.link_tls);
  if (!listener.ok()) return listener.status();
  listener_ = *std::move(listener);
  wire::Endpoint bound = listener_->bound();
  ScheduleTick();
  io_thread_ = std::thread([this] { io_.run(); });
  return bound;
}

void Relay::Stop() {
  if (stopped_.exchange(true)) return;
  children_.CloseAll();
  // Fail pending unknown-flow watchers now: they hold links of this relay's
  // io_context, which must not outlive it.
  state_.Expire(absl::InfiniteFuture());
  if (io_thread_.joinable()) {
    asio::post(io_, [this] {
      if (listener_) listener_->Close();
      tick_timer_.cancel();
    });
    work_.reset();
    // Links still draining would keep the loop alive: stop it after closing.
    asio::post(io_, [this] { io_.stop(); });
    io_thread_.join();
  }
  // Timers still pending (back-pressure looks, relinks, repairs) hold
  // links and subscriber queues whose client connections belong to other
  // io_contexts: release them now, not when this relay is destroyed.
  scheduler_.DropPending();
}

void Relay::ScheduleTick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    state_.Expire(scheduler_.Now());
    const std::shared_ptr<const FlowTable> snapshot = table();
    for (const FlowRoute* route : snapshot->routes()) {
      absl::MutexLock flow_lock(&route->state->mu);
      if (!route->state->repairs.empty()) repair_.Expire(*route, *route->state);
    }
    lan_.Tick(*snapshot);
    acks_.Tick();
    parents_.Prune();
    if (held_resumes_.size() != 0) RetryHeldResumes();
    ReportGauges(*snapshot);
    ScheduleTick();
  });
}

uint64_t Relay::PublishLocal(const std::string& group, const std::string& source,
                             absl::string_view payload) {
  return intake_.PublishLocal(group, source, payload);
}

absl::StatusOr<uint64_t> Relay::PublishFrame(const std::string& group, const std::string& source,
                                             wire::FrameBuffer frame) {
  return intake_.PublishFrame(group, source, std::move(frame));
}

bool Relay::FromParent(const FlowRoute& route, const wire::InboundLink& link) {
  return !route.parent().empty() && link.peer_node() == route.parent() &&
         link.peer_token() == route.entry.parent_token();
}

void Relay::RefuseFrame(TrafficCounters::GroupCell* counters, const std::string& group,
                        const std::string& what, const std::string& from,
                        const std::string& rightful) {
  if (counters != nullptr) counters->CountDrop(DropReason::kNotFromParent);
  const uint64_t refused = RelayTally::Add(tally_.not_from_parent_dropped);
  if (wire::WorthALogLine(refused)) {
    spdlog::warn("dropping {} of group {} from {}: the table names {} for it ({} refused so far)",
                 what, group, from, rightful, refused);
  }
}

void Relay::RefuseFrameOfFlow(uint32_t group_handle, uint32_t source_id, const std::string& what,
                              const std::string& from, const std::string& rightful) {
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(group_handle, source_id);
  RefuseFrame(route != nullptr ? route->counters : nullptr,
              route != nullptr ? route->group() : std::string(TrafficCounters::kOtherGroup), what,
              from, rightful);
}

void Relay::OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link) {
  switch (frame->header().type) {
    case wire::FrameType::kHello:
      if (!link.probe()) {
        parents_.Register(link.peer_node(), link.peer_token(), link.weak_from_this());
        // Multicast frames of this parent's flows that came before its link.
        lan_.OnParentLink(*table());
        ResumeFromParents(&link.peer_node());
      }
      return;
    case wire::FrameType::kGap:
      OnGap(frame, link);
      return;
    case wire::FrameType::kResume: {
      // A parent never asks its child for frames: whoever sends this is
      // not the flow's child on this link.
      RefuseFrameOfFlow(frame->header().group_handle, frame->header().source_id, "RESUME",
                        absl::StrCat(link.peer_node(), " (", link.remote(), ")"),
                        "only the flow's children, on links this node opened");
      return;
    }
    default:
      HandleData(frame, link.shared_from_this());
  }
}

bool Relay::HandleData(const wire::FramePtr& frame,
                       const std::shared_ptr<wire::InboundLink>& link) {
  const wire::FrameHeader& h = frame->header();
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(h.group_handle, h.source_id);
  if (route == nullptr) {
    spdlog::debug("frame of flow ({}, {}) seq {} before its table entry; holding the link",
                  h.group_handle, h.source_id, h.sequence);
    // The parent learned of the flow first: hold the link until our table
    // catches up (or give up after unknown_flow_wait).
    link->Pause();
    const absl::Time deadline = scheduler_.Now() + options_.unknown_flow_wait;
    state_.WhenFlowKnown(
        h.group_handle, h.source_id, deadline, [this, frame, link, deadline](bool known) {
          asio::post(io_, [this, frame, link, known, deadline] {
            // The compiled table follows the state's by a moment (the
            // compile runs right after): look again until the deadline.
            if (known &&
                table()->Find(frame->header().group_handle, frame->header().source_id) == nullptr &&
                scheduler_.Now() < deadline) {
              scheduler_.After(absl::Milliseconds(5), [this, frame, link] {
                if (!HandleData(frame, link)) link->Resume();
              });
              return;
            }
            if (!known ||
                table()->Find(frame->header().group_handle, frame->header().source_id) == nullptr) {
              if (options_.traffic) {
                options_.traffic->CountDrop(TrafficCounters::kOtherGroup, DropReason::kUnknownFlow);
              }
              RelayTally::Add(tally_.unknown_flow_dropped);
              spdlog::warn("dropping frame of unknown flow (group {}, source {}) from {}",
                           frame->header().group_handle, frame->header().source_id,
                           link->peer_node());
              link->Resume();
              return;
            }
            if (!HandleData(frame, link)) link->Resume();
          });
        });
    return true;
  }
  // The allow-list is checked again at every relay, not only at the ingress.
  if (!route->allowed.ok()) {
    if (route->counters != nullptr) route->counters->CountDrop(DropReason::kDisallowed);
    if (RelayTally::Add(tally_.disallowed_dropped) == 1) {
      spdlog::warn("dropping frames of a source the group does not allow: {}",
                   route->allowed.ToString());
    }
    return false;
  }
  if (h.type != wire::FrameType::kData) return false;
  // Only the flow's parent may feed it: frames of a parent this node has
  // moved away from are resent by the new one (RESUME), and a node that
  // merely said HELLO cannot inject into a flow.
  if (!FromParent(*route, *link)) {
    RefuseFrame(route->counters, route->group(), "DATA",
                absl::StrCat(link->peer_node(), " (", link->remote(), ")"),
                route->parent().empty() ? "no parent" : "parent " + route->parent());
    return false;
  }
  if (route->counters != nullptr) route->counters->CountIn(frame->payload().size());
  FlowState& flow = *route->state;
  Pressure pressure;
  {
    absl::MutexLock flow_lock(&flow.mu);
    if (flow.parent.empty()) flow.parent = route->parent();
    if (h.sequence <= flow.last) {
      // Old: a duplicate, or a frame this node asked its parent for on
      // behalf of a receiver.
      if (!repair_.TakeOldFrame(*route, flow, frame)) {
        if (route->counters != nullptr) route->counters->CountDrop(DropReason::kDuplicate);
        RelayTally::Add(tally_.duplicates_dropped);
      }
      return false;
    }
    // Where the flow must continue: after the last frame delivered, or,
    // before any, after what this node asked its parent for (0: the flow's
    // start — a first frame is not taken as the start).
    const uint64_t from = flow.last != 0 ? flow.last : flow.resume_asked_after;
    if (h.sequence != from + 1 && !route->realtime) {
      // A gap: drop this frame and ask the parent to resend from the last
      // one delivered (go-back-N); everything after it comes again. What no
      // node still holds comes back as a GAP.
      repair_.AskAfterGap(*route, flow, *link);
      RelayTally::Add(tally_.out_of_order_dropped);
      return false;
    }
    flow.last = h.sequence;
    pressure = fan_out_.Dispatch(*route, frame, flow);
    // A repair that filled a multicast hole releases the frames behind it.
    if (!flow.ahead.empty()) {
      pressure.Absorb(lan_.DispatchAhead(*route, flow));
      lan_.AskForHole(*route, flow, *link, /*retry=*/false);  // the next one, if any
    }
  }
  if (pressure.empty()) return false;
  link->Pause();
  children_.AwaitDrain(std::move(pressure), [link] { link->Resume(); });
  return true;
}

void Relay::OnGap(const wire::FramePtr& frame, const wire::InboundLink& link) {
  absl::StatusOr<wire::GapNotice> gap = wire::ParseGap(*frame);
  if (!gap.ok()) {
    spdlog::warn("ignoring a malformed GAP frame: {}", std::string(gap.status().message()));
    return;
  }
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(gap->group_handle, gap->source_id);
  if (route == nullptr) return;
  // Only the flow's parent may declare its frames lost.
  if (!FromParent(*route, link)) {
    RefuseFrame(route->counters, route->group(), "GAP",
                absl::StrCat(link.peer_node(), " (", link.remote(), ")"),
                route->parent().empty() ? "no parent" : "parent " + route->parent());
    return;
  }
  absl::MutexLock flow_lock(&route->state->mu);
  repair_.OnGap(*route, *route->state, *gap, frame);
}

void Relay::OnChildControl(wire::FramePtr frame, const std::shared_ptr<wire::QueuedLink>& link) {
  if (frame->header().type == wire::FrameType::kAckSummary) {
    OnChildAckSummary(*frame, link);
    return;
  }
  if (frame->header().type != wire::FrameType::kResume) return;
  absl::StatusOr<wire::ResumeRequest> request = wire::ParseResume(*frame);
  if (!request.ok()) {
    spdlog::warn("closing link to {}: {}", link->peer_node(),
                 std::string(request.status().message()));
    link->Close();
    return;
  }
  if (ServeResumeIfChild(*request, link)) return;
  // The child may know of its new parent before this node knows of its new
  // child (tables reach nodes in any order): hold the request a while.
  if (held_resumes_.Hold(HeldResumes::Held{link, link->peer_node(), *request,
                                           scheduler_.Now() + options_.unknown_flow_wait})) {
    RelayTally::Add(tally_.resumes_held);
    return;
  }
  RefuseFrameOfFlow(request->group_handle, request->source_id, "RESUME", link->peer_node(),
                    "only its children");
}

bool Relay::ServeResumeIfChild(const wire::ResumeRequest& request,
                               const std::shared_ptr<wire::QueuedLink>& link) {
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(request.group_handle, request.source_id);
  if (route == nullptr) return false;
  // Only a child the table names for the flow may ask for it again.
  const bool child = std::any_of(
      route->children.begin(), route->children.end(),
      [&](const FlowRoute::Child& c) { return c.slot->node_id() == link->peer_node(); });
  if (!child) return false;
  // The table says this node carries the flow, even if no frame of it has
  // arrived yet (a relay that just started).
  absl::MutexLock flow_lock(&route->state->mu);
  repair_.ServeResume(*route, *route->state, RepairTarget{link, nullptr, nullptr}, request.after,
                      request.until);
  return true;
}

void Relay::RetryHeldResumes() {
  const absl::Time now = scheduler_.Now();
  for (HeldResumes::Held& held : held_resumes_.TakeAll()) {
    std::shared_ptr<wire::QueuedLink> link = held.link.lock();
    if (link == nullptr || link->closed()) continue;  // the child went away
    if (ServeResumeIfChild(held.request, link)) continue;
    if (now < held.until && held_resumes_.Hold(held)) continue;
    RefuseFrameOfFlow(held.request.group_handle, held.request.source_id, "RESUME", held.peer,
                      "only its children");
  }
}

void Relay::OnChildAckSummary(const wire::Frame& frame,
                              const std::shared_ptr<wire::QueuedLink>& link) {
  absl::StatusOr<wire::AckSummary> summary = wire::ParseAckSummary(frame);
  if (!summary.ok()) {
    spdlog::warn("closing link to {}: {}", link->peer_node(),
                 std::string(summary.status().message()));
    link->Close();
    return;
  }
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(frame.header().group_handle, frame.header().source_id);
  if (route == nullptr || route->retired) return;  // a flow this node no longer carries
  const bool child = std::any_of(
      route->children.begin(), route->children.end(),
      [&](const FlowRoute::Child& c) { return c.slot->node_id() == link->peer_node(); });
  if (!child) {
    RefuseFrame(route->counters, route->group(), "ACK_SUMMARY", link->peer_node(),
                "only its children");
    return;
  }
  acks_.OnChildSummary(*route, link->peer_node(), *summary);
}

absl::Status Relay::ResendToSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber,
                                       uint32_t group_handle, uint32_t source_id, uint64_t after,
                                       uint64_t until) {
  if (until <= after) return absl::InvalidArgumentError("empty resend range");
  const std::shared_ptr<const FlowTable> snapshot = table();
  const FlowRoute* route = snapshot->Find(group_handle, source_id);
  if (route == nullptr || route->group() != subscriber->group()) {
    return absl::NotFoundError(absl::StrCat("no flow (", group_handle, ", ", source_id,
                                            ") of group ", subscriber->group(), " here"));
  }
  absl::MutexLock flow_lock(&route->state->mu);
  repair_.ResendToSubscriber(*route, *route->state, RepairTarget{nullptr, subscriber, route->names},
                             after, until);
  return absl::OkStatus();
}

void Relay::ResumeFromParents(const std::string* peer) {
  const std::shared_ptr<const FlowTable> snapshot = table();
  for (const FlowRoute* route : snapshot->routes()) {
    if (route->retired || route->parent().empty()) continue;
    if (peer != nullptr && route->parent() != *peer) continue;
    std::shared_ptr<wire::FrameSender> link =
        parents_.Find(route->parent(), route->entry.parent_token());
    FlowState& flow = *route->state;
    absl::MutexLock flow_lock(&flow.mu);
    const bool moved = flow.parent != route->parent();
    // On a new link from a parent, a parent change, or the flow's return
    // to this node's table, with the parent's link up: say where this node
    // is so the parent resends what it missed. A `reliable` flow never
    // seen asks from its start.
    if (link == nullptr || (peer == nullptr && !moved && !flow.returned)) {
      if (link != nullptr) flow.parent = route->parent();
      continue;
    }
    flow.returned = false;
    repair_.ResumeFromParent(*route, flow, *link);
  }
}

void Relay::OnTableChanged() {
  absl::MutexLock compiling(&compile_mu_);
  if (stopped_.load()) return;
  const std::vector<v1::FlowEntry> entries = state_.Entries();
  const std::vector<v1::FlowEntry> retired = state_.RetiredEntries();
  // Flows that stay: in the table, retired but in flight, published here,
  // or wanted but cut off (they keep their sequence state until healed).
  absl::flat_hash_set<FlowStates::Key> live;
  absl::flat_hash_set<std::string> child_ids;
  for (const auto* list : {&entries, &retired}) {
    for (const v1::FlowEntry& e : *list) {
      live.insert({e.group(), e.source()});
      for (const v1::Hop& hop : e.children()) child_ids.insert(hop.node_id());
    }
  }
  const v1::SourceReport local_sources = clients_.SourceSnapshot();
  for (const v1::SourceKey& k : local_sources.sources()) live.insert({k.group(), k.source()});
  for (const auto& [key, reason] : state_.CutOffs()) live.insert(key);
  for (const std::shared_ptr<FlowState>& ended : flows_.Retain(live)) {
    absl::MutexLock flow_lock(&ended->mu);
    budget_.Release(ended->ring.Clear());
    ended->repairs.clear();
  }
  for (const std::string& gone : children_.Retain(child_ids)) {
    if (options_.traffic) options_.traffic->ForgetLink(gone);
  }

  auto compiled = std::make_shared<FlowTable>();
  auto compile = [&](const v1::FlowEntry& e, bool is_retired) {
    auto route = std::make_shared<FlowRoute>();
    route->entry = e;
    route->names = std::make_shared<const FlowNames>(FlowNames{e.group(), e.source()});
    route->realtime = e.slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
    route->retired = is_retired;
    route->allowed = state_.CheckAllowed(e.group(), e.source());
    // Links to new children open now, not with the next frame: a child
    // that moved here asks for what it missed as soon as the link arrives.
    for (const v1::Hop& hop : e.children()) {
      if (std::shared_ptr<ChildSlot> slot = children_.Slot(hop)) {
        route->children.push_back(FlowRoute::Child{std::move(slot), hop.via_multicast()});
      }
    }
    route->subscribers = clients_.GroupOf(e.group());
    route->counters = options_.traffic != nullptr ? &options_.traffic->Cell(e.group()) : nullptr;
    route->state = flows_.Get(e.group(), e.source());
    if (is_retired) {
      absl::MutexLock flow_lock(&route->state->mu);
      route->state->in_table = false;
    } else {
      absl::MutexLock flow_lock(&route->state->mu);
      if (!route->state->in_table && !route->state->parent.empty()) route->state->returned = true;
      route->state->in_table = true;
      // Frames a local publisher sent before the table named the flow's
      // ids carry none: they get them before anyone is sent them again.
      if (route->state->group_handle != e.group_handle() ||
          route->state->source_id != e.source_id()) {
        route->state->group_handle = e.group_handle();
        route->state->source_id = e.source_id();
        route->state->ring.Restamp(e.group_handle(), e.source_id());
      }
    }
    compiled->Add(std::move(route));
  };
  for (const v1::FlowEntry& e : entries) compile(e, /*is_retired=*/false);
  for (const v1::FlowEntry& e : retired) compile(e, /*is_retired=*/true);
  table_.store(compiled, std::memory_order_release);
  clients_.PruneGroups();
  UpdateMulticastGroups(*compiled);
  asio::post(io_, [this] {
    ResumeFromParents(nullptr);
    RetryHeldResumes();
  });
}

void Relay::UpdateMulticastGroups(const FlowTable& table) {
  if (options_.multicast == nullptr) return;
  absl::flat_hash_set<std::string> wanted;
  for (const FlowRoute* route : table.routes()) {
    if (route->retired) continue;
    if (!route->entry.multicast_group().empty() && !route->entry.multicast_emit()) {
      wanted.insert(route->entry.multicast_group());
    }
  }
  std::vector<std::string> join, leave;
  for (const std::string& g : wanted) {
    if (multicast_joined_.insert(g).second) join.push_back(g);
  }
  for (const std::string& g : multicast_joined_) {
    if (!wanted.contains(g)) leave.push_back(g);
  }
  for (const std::string& g : leave) multicast_joined_.erase(g);
  for (const std::string& g : join) {
    if (absl::Status s = options_.multicast->Join(g); !s.ok()) {
      spdlog::warn("cannot receive multicast group {}: {}", g, s.ToString());
    } else {
      spdlog::info("receiving LAN multicast on {}", g);
    }
  }
  for (const std::string& g : leave) options_.multicast->Leave(g);
}

void Relay::OnMulticastFrame(wire::FramePtr frame, std::string sender) {
  asio::post(io_, [this, frame = std::move(frame), sender = std::move(sender)] {
    lan_.OnFrame(*table(), frame, sender);
  });
}

void Relay::ReportGauges(const FlowTable& table) {
  TrafficCounters* t = options_.traffic;
  if (t == nullptr) return;
  absl::flat_hash_map<std::string, uint64_t> ring_bytes;
  for (const auto& [key, flow] : flows_.All()) {
    absl::MutexLock flow_lock(&flow->mu);
    ring_bytes[key.first] += flow->ring.bytes();
  }
  for (const auto& [group, bytes] : ring_bytes) t->SetReplayBytes(group, bytes);
  for (const auto& link : children_.Links()) {
    t->SetLinkQueueBytes(link->peer_node(), link->QueuedBytes());
  }
  uint64_t subscriber_bytes = 0;
  for (const auto& [group, counts] : clients_.CountsByGroup()) {
    for (const auto& subscriber : clients_.Subscribers(group)) {
      subscriber_bytes += subscriber->QueuedBytes();
    }
  }
  t->SetSubscriberQueueBytes(subscriber_bytes);
}

RelayCounters Relay::counters() const {
  RelayCounters c = tally_.Read();
  c.replay_ring_bytes = budget_.bytes();
  // Set before the I/O thread starts and never reset: safe to read here.
  if (listener_) {
    c.links_refused = listener_->refused();
    c.links_refused_tls = listener_->refused_tls();
    c.links_refused_identity = listener_->refused_identity();
    c.links_refused_no_hello = listener_->refused_no_hello();
  }
  return c;
}

}  // namespace canopy::node
