#include "node/relay.h"

#include <algorithm>
#include <atomic>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/post.hpp"
#include "proto/source_filter.h"
#include "spdlog/spdlog.h"
#include "wire/control_frames.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {
constexpr auto kWatcherExpiryInterval = std::chrono::milliseconds(250);
// The first sequence from `sequence` on that `ring` holds, or `last` + 1 if
// it holds none up to the flow's newest.
uint64_t FirstHeldFrom(const ReplayRing& ring, uint64_t sequence, uint64_t last) {
  return std::min(ring.NextHeld(sequence).value_or(last + 1), last + 1);
}

}  // namespace

Relay::Relay(RelayOptions options, ForwardingState& state, LocalClients& clients)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      work_(asio::make_work_guard(io_)),
      expiry_timer_(io_) {}

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
  ScheduleWatcherExpiry();
  io_thread_ = std::thread([this] { io_.run(); });
  return bound;
}

void Relay::Stop() {
  absl::flat_hash_map<std::string, std::shared_ptr<wire::OutboundLink>> children;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    children = std::move(children_);
  }
  for (auto& [id, link] : children) link->Close();
  // Fail pending unknown-flow watchers now: they hold links of this relay's
  // io_context, which must not outlive it.
  state_.Expire(absl::InfiniteFuture());
  if (io_thread_.joinable()) {
    asio::post(io_, [this] {
      if (listener_) listener_->Close();
      expiry_timer_.cancel();
    });
    work_.reset();
    // Links still draining would keep the loop alive: stop it after closing.
    asio::post(io_, [this] { io_.stop(); });
    io_thread_.join();
  }
}

void Relay::ScheduleWatcherExpiry() {
  expiry_timer_.expires_after(kWatcherExpiryInterval);
  expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    state_.Expire(absl::Now());
    ExpireAllRepairs(absl::Now());
    if (options_.multicast != nullptr) {
      ResendMulticastTails(absl::Now());
      RetryMulticastHoles();
    }
    ReportGauges();
    ScheduleWatcherExpiry();
  });
}

std::shared_ptr<wire::OutboundLink> Relay::LinkTo(const v1::Hop& hop) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  auto it = children_.find(hop.node_id());
  if (it != children_.end() && !it->second->closed() &&
      it->second->address().ToString() == hop.data_address()) {
    return it->second;
  }
  absl::StatusOr<HostPort> address = ParseHostPort(hop.data_address());
  if (!address.ok()) {
    spdlog::error("child {}: {}", hop.node_id(), std::string(address.status().message()));
    return nullptr;
  }
  if (it != children_.end()) it->second->Close();
  wire::OutboundLinkOptions link_options;
  link_options.local_node_id = options_.node_id;
  link_options.link_token = options_.link_token;
  link_options.high_watermark_bytes = options_.link_high_watermark_bytes;
  link_options.low_watermark_bytes = options_.link_low_watermark_bytes;
  link_options.tls = options_.link_tls;
  link_options.on_control = [this](wire::FramePtr frame, wire::OutboundLink& link) {
    OnChildControl(std::move(frame), link);
  };
  std::string child = hop.node_id();
  auto link = wire::OutboundLink::Start(io_, child, wire::Endpoint{address->host, address->port},
                                        link_options, [this, child](const absl::Status& status) {
                                          if (status.ok()) return;
                                          spdlog::warn("link to child {} closed: {}", child,
                                                       std::string(status.message()));
                                          ScheduleRelink(child);
                                        });
  children_[child] = link;
  return link;
}

void Relay::ScheduleRelink(const std::string& child) {
  auto timer = std::make_shared<asio::steady_timer>(io_, kRelinkDelay);
  timer->async_wait([this, timer, child](const boost::system::error_code& ec) {
    if (ec) return;
    // A child that is still in the table gets its link back (a restarted
    // node resumes through it); one the controller dropped does not.
    for (const v1::FlowEntry& e : state_.Entries()) {
      for (const v1::Hop& hop : e.children()) {
        if (hop.node_id() == child) {
          LinkTo(hop);
          return;
        }
      }
    }
  });
}

void Relay::Remember(FlowState& flow, const wire::FramePtr& frame) {
  size_t added = flow.ring.Add(frame);
  size_t freed = 0;
  absl::MutexLock lock(&mu_);
  counters_.replay_ring_bytes += added;
  while (counters_.replay_ring_bytes - freed > options_.replay_bytes && flow.ring.frames() > 1) {
    freed += flow.ring.EvictOldest();
  }
  counters_.replay_ring_bytes -= freed;
}

Relay::Pressure Relay::Dispatch(const v1::FlowEntry* entry,
                                const std::shared_ptr<const FlowNames>& names,
                                const wire::FramePtr& frame, FlowState& flow) {
  Pressure pressure;
  Remember(flow, frame);
  // `realtime` receivers drop their own oldest frames instead of pushing
  // back, so a slow one never slows the others.
  const bool realtime = entry != nullptr && entry->slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
  uint64_t copies = 0;
  uint64_t overflow = 0;
  if (entry != nullptr) {
    bool multicast_sent = false;
    for (const v1::Hop& hop : entry->children()) {
      std::shared_ptr<wire::OutboundLink> link = LinkTo(hop);
      if (hop.via_multicast() && options_.multicast != nullptr && entry->multicast_emit()) {
        // One multicast copy serves every child on the LAN; their links
        // carry only the repairs they ask for.
        if (!multicast_sent) {
          multicast_sent = true;
          ++copies;
          const int ttl = std::max<int>(1, static_cast<int>(entry->ttl()));
          options_.multicast->Send(entry->multicast_group(), ttl, *frame)
              .IgnoreError();  // counted by the channel; receivers repair
          flow.multicast_tail =
              FlowState::MulticastTail{frame, entry->multicast_group(), ttl, absl::Now(), 0};
          absl::MutexLock lock(&mu_);
          ++counters_.multicast_frames_sent;
        }
        continue;
      }
      if (link == nullptr) continue;
      ++copies;
      if (realtime) {
        const uint64_t before = link->dropped_frames();
        link->SendDroppingOldest(frame);
        overflow += link->dropped_frames() - before;
        continue;
      }
      if (!link->Send(frame)) continue;
      if (link->OverHighWatermark()) pressure.links.push_back(std::move(link));
    }
  }
  for (auto& subscriber : clients_.Subscribers(names->group)) {
    if (!Admits(subscriber->filter(), names->source)) continue;
    ++copies;
    if (realtime) {
      const uint64_t before = subscriber->dropped();
      subscriber->PushDroppingOldest(DeliveryItem{frame, names});
      overflow += subscriber->dropped() - before;
      continue;
    }
    if (!subscriber->Push(DeliveryItem{MaybeCorrupt(frame), names})) continue;
    if (subscriber->OverHighWatermark()) pressure.subscribers.push_back(std::move(subscriber));
  }
  if (TrafficCounters* t = options_.traffic) {
    if (copies > 0) t->CountOut(names->group, frame->payload().size(), copies);
    if (overflow > 0) t->CountDrop(names->group, DropReason::kRealtimeOverflow, overflow);
  }
  if (!flow.repairs.empty()) AdvanceRepairs(entry, flow);
  return pressure;
}

void Relay::AwaitDrain(Pressure pressure, std::function<void()> done) {
  struct Waiting {
    absl::Mutex mu;
    size_t pending ABSL_GUARDED_BY(mu) = 0;
    std::function<void()> done ABSL_GUARDED_BY(mu);
    std::unique_ptr<asio::steady_timer> timer;
  };
  auto waiting = std::make_shared<Waiting>();
  auto finish = [this, waiting] {
    std::function<void()> done;
    {
      absl::MutexLock lock(&waiting->mu);
      done = std::move(waiting->done);
      waiting->done = nullptr;
    }
    if (!done) return;
    done();
    asio::post(io_, [waiting] { waiting->timer->cancel(); });
  };
  auto one_drained = [waiting, finish] {
    bool last;
    {
      absl::MutexLock lock(&waiting->mu);
      last = --waiting->pending == 0;
    }
    if (last) finish();
  };
  {
    absl::MutexLock lock(&waiting->mu);
    waiting->pending = pressure.links.size() + pressure.subscribers.size();
    waiting->done = std::move(done);
  }
  waiting->timer = std::make_unique<asio::steady_timer>(
      io_, std::chrono::microseconds(absl::ToInt64Microseconds(options_.detach_after)));
  waiting->timer->async_wait(
      [this, waiting, finish, pressure](const boost::system::error_code& ec) {
        if (ec) return;
        {
          absl::MutexLock lock(&waiting->mu);
          if (!waiting->done) return;  // everything drained in time
        }
        for (const auto& link : pressure.links) {
          if (link->OverHighWatermark()) {
            spdlog::warn("detaching child {}: its link stayed full for {}", link->peer_node(),
                         absl::FormatDuration(options_.detach_after));
            link->Close();
          }
        }
        for (const auto& subscriber : pressure.subscribers) {
          if (subscriber->OverHighWatermark()) {
            subscriber->Close(absl::ResourceExhaustedError(
                absl::StrCat("subscriber of group '", subscriber->group(), "' did not keep up for ",
                             absl::FormatDuration(options_.detach_after), " and was detached")));
          }
        }
        finish();
      });
  for (const auto& link : pressure.links) link->NotifyWhenDrained(one_drained);
  for (const auto& subscriber : pressure.subscribers) {
    subscriber->NotifyWhenDrained(one_drained);
  }
}

wire::FramePtr Relay::MaybeCorrupt(const wire::FramePtr& frame) {
  if (options_.fault_flip_every == 0 || frame->payload().empty()) return frame;
  if (fault_counter_.fetch_add(1, std::memory_order_relaxed) % options_.fault_flip_every !=
      options_.fault_flip_every - 1) {
    return frame;
  }
  // As if this node's memory flipped a bit after the frame was verified:
  // the copy carries a checksum that matches its damaged payload.
  std::string payload(frame->payload());
  payload[payload.size() / 2] ^= 0x01;
  const wire::FrameHeader& h = frame->header();
  spdlog::warn("fault injection: flipped a bit of ({}, {}) sequence {} for local subscribers",
               h.group_handle, h.source_id, h.sequence);
  return wire::Frame::Make(h.type, h.group_handle, h.source_id, h.sequence, payload);
}

uint64_t Relay::PublishLocal(const std::string& group, const std::string& source,
                             absl::string_view payload) {
  absl::StatusOr<uint64_t> sequence =
      Ingest(group, source, [payload](uint32_t handle, uint32_t id, uint64_t seq) {
        return absl::StatusOr<wire::FramePtr>(
            wire::Frame::Make(wire::FrameType::kData, handle, id, seq, payload));
      });
  return *sequence;  // Make() cannot fail
}

absl::StatusOr<uint64_t> Relay::PublishFrame(const std::string& group, const std::string& source,
                                             wire::FrameBuffer frame) {
  return Ingest(group, source, [&](uint32_t handle, uint32_t id, uint64_t seq) {
    return wire::Frame::Restamp(std::move(frame), options_.max_payload, handle, id, seq);
  });
}

absl::StatusOr<uint64_t> Relay::Ingest(const std::string& group, const std::string& source,
                                       LocalFrameMaker make) {
  std::optional<v1::FlowEntry> entry = state_.Find(group, source);
  auto names = std::make_shared<const FlowNames>(FlowNames{group, source});
  std::shared_ptr<FlowState> flow = Flow(group, source);
  uint64_t sequence;
  Pressure pressure;
  {
    // Sequence and hand-off under the flow's lock: two local publishers of
    // one flow must not reorder it.
    absl::MutexLock publishing(&flow->mu);
    sequence = flow->last + 1;
    absl::StatusOr<wire::FramePtr> frame =
        make(entry ? entry->group_handle() : 0, entry ? entry->source_id() : 0, sequence);
    if (!frame.ok()) return frame.status();
    flow->last = sequence;
    if (options_.traffic) options_.traffic->CountIn(group, (*frame)->payload().size());
    pressure = Dispatch(entry ? &*entry : nullptr, names, *frame, *flow);
  }
  if (!pressure.empty()) {
    absl::Notification drained;
    AwaitDrain(std::move(pressure), [&drained] { drained.Notify(); });
    drained.WaitForNotification();
  }
  return sequence;
}

void Relay::OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link) {
  switch (frame->header().type) {
    case wire::FrameType::kHello:
      if (!link.probe()) {
        {
          absl::MutexLock lock(&mu_);
          parent_links_[{link.peer_node(), link.peer_token()}] = link.weak_from_this();
        }
        // Multicast frames of this parent's flows that came before its link.
        for (auto& [key, flow] : FlowsSnapshot()) {
          std::vector<std::pair<wire::FramePtr, std::string>> held;
          {
            absl::MutexLock flow_lock(&flow->mu);
            held.swap(flow->before_parent_link);
          }
          for (auto& [frame, sender] : held) HandleMulticast(frame, sender);
        }
        ResumeFromParents(&link.peer_node());
      }
      return;
    case wire::FrameType::kGap:
      OnGap(frame, link);
      return;
    case wire::FrameType::kResume: {
      // A parent never asks its child for frames: whoever sends this is
      // not the flow's child on this link.
      std::optional<v1::FlowEntry> entry =
          state_.FindByIds(frame->header().group_handle, frame->header().source_id);
      RefuseFrame(entry ? entry->group() : std::string(TrafficCounters::kOtherGroup), "RESUME",
                  absl::StrCat(link.peer_node(), " (", link.remote(), ")"),
                  "only the flow's children, on links this node opened");
      return;
    }
    default:
      HandleInbound(frame, link.shared_from_this());
  }
}

bool Relay::PassesAllowList(const v1::FlowEntry& entry) {
  absl::Status allowed = state_.CheckAllowed(entry.group(), entry.source());
  if (allowed.ok()) return true;
  if (options_.traffic) options_.traffic->CountDrop(entry.group(), DropReason::kDisallowed);
  absl::MutexLock lock(&mu_);
  if (counters_.disallowed_dropped++ == 0) {
    spdlog::warn("dropping frames of a source the group does not allow: {}", allowed.ToString());
  }
  return false;
}

void Relay::CountDuplicate(const std::string& group) {
  if (options_.traffic) options_.traffic->CountDrop(group, DropReason::kDuplicate);
  absl::MutexLock lock(&mu_);
  ++counters_.duplicates_dropped;
}

std::shared_ptr<wire::InboundLink> Relay::ParentLink(const v1::FlowEntry& entry) {
  absl::MutexLock lock(&mu_);
  auto it = parent_links_.find({entry.parent(), entry.parent_token()});
  return it == parent_links_.end() ? nullptr : it->second.lock();
}

bool Relay::FromParent(const v1::FlowEntry& entry, const wire::InboundLink& link) {
  return !entry.parent().empty() && link.peer_node() == entry.parent() &&
         link.peer_token() == entry.parent_token();
}

void Relay::RefuseFrame(const std::string& group, const std::string& what, const std::string& from,
                        const std::string& rightful) {
  if (options_.traffic) options_.traffic->CountDrop(group, DropReason::kNotFromParent);
  uint64_t refused;
  {
    absl::MutexLock lock(&mu_);
    refused = ++counters_.not_from_parent_dropped;
  }
  // One line per thousand: a flood must not flood the log too.
  if (refused % 1000 == 1) {
    spdlog::warn("dropping {} of group {} from {}: the table names {} for it ({} refused so far)",
                 what, group, from, rightful, refused);
  }
}

bool Relay::HandleInbound(const wire::FramePtr& frame,
                          const std::shared_ptr<wire::InboundLink>& link) {
  const wire::FrameHeader& h = frame->header();
  std::optional<v1::FlowEntry> entry = state_.FindByIds(h.group_handle, h.source_id);
  if (!entry) {
    spdlog::debug("frame of flow ({}, {}) seq {} before its table entry; holding the link",
                  h.group_handle, h.source_id, h.sequence);
    // The parent learned of the flow first: hold the link until our table
    // catches up (or give up after unknown_flow_wait).
    link->Pause();
    state_.WhenFlowKnown(
        h.group_handle, h.source_id, absl::Now() + options_.unknown_flow_wait,
        [this, frame, link](bool known) {
          asio::post(io_, [this, frame, link, known] {
            if (!known) {
              if (options_.traffic) {
                options_.traffic->CountDrop(TrafficCounters::kOtherGroup, DropReason::kUnknownFlow);
              }
              {
                absl::MutexLock lock(&mu_);
                ++counters_.unknown_flow_dropped;
              }
              spdlog::warn("dropping frame of unknown flow (group {}, source {}) from {}",
                           frame->header().group_handle, frame->header().source_id,
                           link->peer_node());
              link->Resume();
              return;
            }
            if (!HandleInbound(frame, link)) link->Resume();
          });
        });
    return true;
  }
  // The allow-list is checked again at every relay, not only at the ingress.
  if (!PassesAllowList(*entry)) return false;
  if (h.type != wire::FrameType::kData) return false;
  // Only the flow's parent may feed it: frames of a parent this node has
  // moved away from are resent by the new one (RESUME), and a node that
  // merely said HELLO cannot inject into a flow.
  if (!FromParent(*entry, *link)) {
    RefuseFrame(entry->group(), absl::StrCat("DATA of source ", entry->source()),
                absl::StrCat(link->peer_node(), " (", link->remote(), ")"),
                entry->parent().empty() ? "no parent" : "parent " + entry->parent());
    return false;
  }
  if (options_.traffic) options_.traffic->CountIn(entry->group(), frame->payload().size());
  std::shared_ptr<FlowState> flow = Flow(entry->group(), entry->source());
  Pressure pressure;
  {
    absl::MutexLock flow_lock(&flow->mu);
    if (flow->parent.empty()) flow->parent = entry->parent();
    const bool realtime = entry->slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
    if (h.sequence <= flow->last) {
      // Old: a duplicate, or a frame this node asked its parent for on
      // behalf of a child.
      if (!flow->repairs.empty() && flow->ring.Get(h.sequence) == nullptr) {
        for (FlowState::Repair& r : flow->repairs) {
          if (r.next == h.sequence && !r.closed()) {
            r.Send(frame);
            ++r.next;
          }
        }
        Remember(*flow, frame);
        AdvanceRepairs(&*entry, *flow);
      } else {
        CountDuplicate(entry->group());
      }
      return false;
    }
    // Where the flow must continue: after the last frame delivered, or,
    // before any, after what this node asked its parent for (0: the flow's
    // start — a first frame is not taken as the start).
    const uint64_t from = flow->last != 0 ? flow->last : flow->resume_asked_after;
    if (h.sequence != from + 1 && !realtime) {
      // A gap: drop this frame and ask the parent to resend from the last
      // one delivered (go-back-N); everything after it comes again. What no
      // node still holds comes back as a GAP.
      const absl::Time now = absl::Now();
      bool ask = flow->resume_asked_after != from ||
                 now - flow->resume_asked_at >= options_.resume_retry;
      if (ask) {
        flow->resume_asked_after = from;
        flow->resume_asked_at = now;
        link->Send(wire::MakeResume({entry->group_handle(), entry->source_id(), from, /*until=*/0}));
      }
      absl::MutexLock lock(&mu_);
      ++counters_.out_of_order_dropped;
      if (ask) ++counters_.resumes_sent;
      return false;
    }
    flow->last = h.sequence;
    auto names = std::make_shared<const FlowNames>(FlowNames{entry->group(), entry->source()});
    pressure = Dispatch(&*entry, names, frame, *flow);
    // A repair that filled a multicast gap releases the frames behind it.
    if (!flow->ahead.empty()) {
      pressure.Absorb(DispatchAhead(*entry, *flow));
      AskForMulticastHole(*entry, *flow, *link, /*retry=*/false);  // the next one, if any
    }
  }
  if (pressure.empty()) return false;
  link->Pause();
  AwaitDrain(std::move(pressure), [link] { link->Resume(); });
  return true;
}

Relay::Pressure Relay::DispatchAhead(const v1::FlowEntry& entry, FlowState& flow) {
  Pressure pressure;
  auto names = std::make_shared<const FlowNames>(FlowNames{entry.group(), entry.source()});
  while (!flow.ahead.empty() && flow.ahead.begin()->first <= flow.last + 1) {
    auto node = flow.ahead.extract(flow.ahead.begin());
    if (node.key() <= flow.last) continue;  // came meanwhile by the repair
    flow.last = node.key();
    pressure.Absorb(Dispatch(&entry, names, node.mapped(), flow));
  }
  return pressure;
}

void Relay::OnMulticastFrame(wire::FramePtr frame, std::string sender) {
  asio::post(io_, [this, frame = std::move(frame), sender = std::move(sender)] {
    HandleMulticast(frame, sender);
  });
}

void Relay::HandleMulticast(const wire::FramePtr& frame, const std::string& sender) {
  const wire::FrameHeader& h = frame->header();
  if (h.type != wire::FrameType::kData) return;
  std::optional<v1::FlowEntry> entry = state_.FindByIds(h.group_handle, h.source_id);
  if (!entry || entry->multicast_group().empty() || entry->multicast_emit() ||
      entry->parent().empty()) {
    return;  // a flow this node does not receive by multicast (another group on the address)
  }
  // Only the parent's host may feed the flow: its link's remote address.
  std::shared_ptr<wire::InboundLink> link = ParentLink(*entry);
  if (link == nullptr || link->closed()) {
    // The multicast copy outran the parent's link: hold it until the link
    // says who the parent is (OnInboundFrame, HELLO).
    std::shared_ptr<FlowState> flow = Flow(entry->group(), entry->source());
    absl::MutexLock flow_lock(&flow->mu);
    if (flow->before_parent_link.size() < options_.max_frames_ahead) {
      flow->before_parent_link.emplace_back(frame, sender);
      return;
    }
  }
  const std::string parent_host =
      link == nullptr ? std::string() : link->remote().substr(0, link->remote().rfind(':'));
  if (link == nullptr || link->closed() || parent_host != sender) {
    RefuseFrame(entry->group(), absl::StrCat("multicast DATA of source ", entry->source()), sender,
                absl::StrCat("parent ", entry->parent(),
                             link == nullptr ? " (no link from it here yet)" : " at " + parent_host));
    return;
  }
  if (!PassesAllowList(*entry)) return;
  if (options_.traffic) options_.traffic->CountIn(entry->group(), frame->payload().size());
  std::shared_ptr<FlowState> flow = Flow(entry->group(), entry->source());
  absl::MutexLock flow_lock(&flow->mu);
  {
    absl::MutexLock lock(&mu_);
    ++counters_.multicast_frames_received;
  }
  if (flow->parent.empty()) flow->parent = entry->parent();
  const bool realtime = entry->slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
  if (h.sequence <= flow->last) {
    CountDuplicate(entry->group());
    return;
  }
  auto names = std::make_shared<const FlowNames>(FlowNames{entry->group(), entry->source()});
  // As on a link: before any frame, the flow continues after what was asked
  // for (0: its start), not at the first datagram heard.
  const uint64_t from = flow->last != 0 ? flow->last : flow->resume_asked_after;
  if (h.sequence == from + 1 || realtime) {
    if (realtime && flow->last != 0 && h.sequence > flow->last + 1) {
      absl::MutexLock lock(&mu_);
      counters_.sequences_lost += h.sequence - flow->last - 1;  // realtime: counted, not repaired
    }
    flow->last = h.sequence;
    Dispatch(&*entry, names, frame, *flow);
    DispatchAhead(*entry, *flow);
    AskForMulticastHole(*entry, *flow, *link, /*retry=*/false);  // the next one, if any
    return;  // no back pressure on a datagram stream
  }
  // A gap: hold this frame and ask the parent (over its unicast link) for
  // the missing range only.
  if (flow->ahead.size() < options_.max_frames_ahead) flow->ahead.emplace(h.sequence, frame);
  AskForMulticastHole(*entry, *flow, *link, /*retry=*/false);
}

void Relay::AskForMulticastHole(const v1::FlowEntry& entry, FlowState& flow,
                                wire::InboundLink& link, bool retry) {
  if (flow.ahead.empty()) return;
  const uint64_t missing_until = flow.ahead.begin()->first - 1;
  if (missing_until <= flow.last) return;
  const absl::Time now = absl::Now();
  if (flow.resume_asked_after == flow.last &&
      (!retry || now - flow.resume_asked_at < options_.resume_retry)) {
    return;  // asked already; the periodic pass asks again if nothing comes
  }
  flow.resume_asked_after = flow.last;
  flow.resume_asked_at = now;
  link.Send(wire::MakeResume({entry.group_handle(), entry.source_id(), flow.last, missing_until}));
  uint64_t asked;
  {
    absl::MutexLock lock(&mu_);
    asked = ++counters_.multicast_repairs_asked;
    ++counters_.resumes_sent;
  }
  if (asked == 1 || asked % 100 == 0) {
    spdlog::info(
        "asks {} for sequences {}..{} of ({}, {}) lost on the LAN (repairs multicast "
        "gap #{})",
        entry.parent(), flow.last + 1, missing_until, entry.group(), entry.source(), asked);
  }
}

void Relay::RetryMulticastHoles() {
  for (auto& [key, flow] : FlowsSnapshot()) {
    absl::MutexLock flow_lock(&flow->mu);
    if (flow->ahead.empty()) continue;
    std::optional<v1::FlowEntry> entry = state_.Find(key.first, key.second);
    if (!entry) {
      flow->ahead.clear();
      continue;
    }
    std::shared_ptr<wire::InboundLink> link = ParentLink(*entry);
    if (link != nullptr && !link->closed()) AskForMulticastHole(*entry, *flow, *link, true);
  }
}

void Relay::OnTableChanged() {
  absl::flat_hash_set<std::string> children;
  absl::flat_hash_set<std::pair<std::string, std::string>> live_flows;
  std::vector<v1::Hop> current_children;
  // Retired flows keep their links and sequence state while frames that
  // were in flight drain.
  const std::vector<v1::FlowEntry> entries = state_.Entries();
  for (const auto& list : {entries, state_.RetiredEntries()}) {
    for (const v1::FlowEntry& e : list) {
      live_flows.insert({e.group(), e.source()});
      for (const v1::Hop& hop : e.children()) children.insert(hop.node_id());
    }
  }
  for (const v1::FlowEntry& e : entries) {
    for (const v1::Hop& hop : e.children()) current_children.push_back(hop);
  }
  const v1::SourceReport local_sources = clients_.SourceSnapshot();
  for (const v1::SourceKey& k : local_sources.sources()) {
    live_flows.insert({k.group(), k.source()});
  }
  // A flow this node wants but is cut off from keeps its sequence state,
  // so it resumes where it stopped once the tree heals.
  for (const auto& [key, reason] : state_.CutOffs()) live_flows.insert(key);
  std::vector<std::shared_ptr<wire::OutboundLink>> stale;
  std::vector<std::shared_ptr<FlowState>> ended;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = children_.begin(); it != children_.end();) {
      if (children.contains(it->first)) {
        ++it;
      } else {
        stale.push_back(it->second);
        children_.erase(it++);
      }
    }
    // A flow that left the table starts afresh if it comes back (its
    // ingress may have restarted its sequence).
    for (auto it = flows_.begin(); it != flows_.end();) {
      if (live_flows.contains(it->first)) {
        ++it;
      } else {
        ended.push_back(it->second);
        flows_.erase(it++);
      }
    }
  }
  for (auto& link : stale) {
    link->Close();
    if (options_.traffic) options_.traffic->ForgetLink(link->peer_node());
  }
  for (auto& flow : ended) {
    size_t freed;
    {
      absl::MutexLock flow_lock(&flow->mu);
      freed = flow->ring.Clear();
      flow->repairs.clear();
    }
    absl::MutexLock lock(&mu_);
    counters_.replay_ring_bytes -= freed;
  }
  // Links to new children open now, not with the next frame: a child that
  // moved here asks for what it missed as soon as the link arrives.
  for (const v1::Hop& hop : current_children) LinkTo(hop);
  if (options_.multicast != nullptr) {
    absl::flat_hash_set<std::string> wanted;
    for (const v1::FlowEntry& e : entries) {
      if (!e.multicast_group().empty() && !e.multicast_emit()) wanted.insert(e.multicast_group());
    }
    std::vector<std::string> join, leave;
    {
      absl::MutexLock lock(&mu_);
      for (const std::string& g : wanted) {
        if (multicast_joined_.insert(g).second) join.push_back(g);
      }
      for (const std::string& g : multicast_joined_) {
        if (!wanted.contains(g)) leave.push_back(g);
      }
      for (const std::string& g : leave) multicast_joined_.erase(g);
    }
    for (const std::string& g : join) {
      if (absl::Status s = options_.multicast->Join(g); !s.ok()) {
        spdlog::warn("cannot receive multicast group {}: {}", g, s.ToString());
      } else {
        spdlog::info("receiving LAN multicast on {}", g);
      }
    }
    for (const std::string& g : leave) options_.multicast->Leave(g);
  }
  asio::post(io_, [this] { ResumeFromParents(nullptr); });
}

std::shared_ptr<Relay::FlowState> Relay::Flow(const std::string& group, const std::string& source) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<FlowState>& flow = flows_[{group, source}];
  if (flow == nullptr) flow = std::make_shared<FlowState>();
  return flow;
}

std::shared_ptr<Relay::FlowState> Relay::FindFlow(const std::string& group,
                                                  const std::string& source) {
  absl::MutexLock lock(&mu_);
  auto it = flows_.find({group, source});
  return it == flows_.end() ? nullptr : it->second;
}

void Relay::ResumeFromParents(const std::string* peer) {
  for (const v1::FlowEntry& e : state_.Entries()) {
    if (e.parent().empty() || (peer != nullptr && e.parent() != *peer)) continue;
    // A `reliable` flow is followed from its first entry on, so a node that
    // has never had a frame of it asks for it from the start; a `realtime`
    // one only once frames arrived.
    const bool realtime = e.slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
    std::shared_ptr<FlowState> flow =
        realtime ? FindFlow(e.group(), e.source()) : Flow(e.group(), e.source());
    if (flow == nullptr) {
      spdlog::debug("flow ({}, {}): not seen yet, no RESUME to {}", e.group(), e.source(),
                    e.parent());
      continue;
    }
    std::shared_ptr<wire::InboundLink> link = ParentLink(e);
    absl::MutexLock flow_lock(&flow->mu);
    const bool moved = flow->parent != e.parent();
    // Where to resume from: the last frame this node delivered, or, before
    // it has had any, where the children waiting on it stopped, or what it
    // asked for before (0: the flow's start).
    uint64_t from = flow->last;
    if (from == 0) {
      for (const FlowState::Repair& r : flow->repairs) {
        if (r.next > 0 && (from == 0 || r.next - 1 < from)) from = r.next - 1;
      }
    }
    if (from == 0) from = flow->resume_asked_after;
    // On a new link from a parent, or a parent change with its link up:
    // say where this node is so the parent resends what it missed.
    if (link == nullptr || link->closed() || (realtime && from == 0) ||
        (peer == nullptr && !moved)) {
      spdlog::debug("flow ({}, {}): no RESUME to {} (link {}, from {}, moved {})", e.group(),
                    e.source(), e.parent(),
                    link == nullptr ? "none" : (link->closed() ? "closed" : "up"), from, moved);
      if (link != nullptr && !link->closed()) flow->parent = e.parent();
      continue;
    }
    flow->parent = e.parent();
    flow->resume_asked_after = from;
    flow->resume_asked_at = absl::Now();
    spdlog::debug("flow ({}, {}): RESUME after {} to {}", e.group(), e.source(), from, e.parent());
    link->Send(wire::MakeResume({e.group_handle(), e.source_id(), from, /*until=*/0}));
    absl::MutexLock lock(&mu_);
    ++counters_.resumes_sent;
  }
}

void Relay::OnChildControl(wire::FramePtr frame, wire::OutboundLink& link) {
  if (frame->header().type != wire::FrameType::kResume) return;
  absl::StatusOr<wire::ResumeRequest> request = wire::ParseResume(*frame);
  if (!request.ok()) {
    spdlog::warn("closing link to {}: {}", link.peer_node(),
                 std::string(request.status().message()));
    link.Close();
    return;
  }
  std::optional<v1::FlowEntry> entry = state_.FindByIds(request->group_handle, request->source_id);
  if (!entry) return;  // a flow this node no longer carries
  // Only a child the table names for the flow may ask for it again.
  const bool child = std::any_of(entry->children().begin(), entry->children().end(),
                                 [&](const v1::Hop& hop) { return hop.node_id() == link.peer_node(); });
  if (!child) {
    RefuseFrame(entry->group(), absl::StrCat("RESUME of source ", entry->source()),
                link.peer_node(), "only its children");
    return;
  }
  // The table says this node carries the flow, even if no frame of it has
  // arrived yet (a relay that just started).
  std::shared_ptr<FlowState> flow = Flow(entry->group(), entry->source());
  absl::MutexLock flow_lock(&flow->mu);
  ServeResume(*entry, *flow, link.shared_from_this(), request->after, request->until);
}

void Relay::ServeResume(const v1::FlowEntry& entry, FlowState& flow,
                        const std::shared_ptr<wire::OutboundLink>& link, uint64_t after,
                        uint64_t until) {
  {
    absl::MutexLock lock(&mu_);
    ++counters_.resumes_served;
  }
  // One repair per link and flow: a newer request replaces an older one.
  std::erase_if(flow.repairs, [&](const FlowState::Repair& r) { return r.link == link; });
  const uint64_t end = until == 0 ? flow.last : std::min(until, flow.last);
  if (after >= end) {
    if (until != 0 && after >= until) return;  // asks for nothing
    // This node is not ahead of the child (it just joined the flow or
    // restarted). Follow the flow for the child from `after`, and ask this
    // node's parent to resend from there: otherwise nothing would come
    // until the source sends again.
    const uint64_t from = flow.last != 0 ? flow.last : after;
    const absl::Time now = absl::Now();
    if (flow.resume_asked_after != from || now - flow.resume_asked_at >= options_.resume_retry) {
      if (AskParent(entry, from + 1, /*last=*/0)) {
        flow.resume_asked_after = from;
        flow.resume_asked_at = now;
      }
    }
    spdlog::info(
        "child {} resumes flow ({}, {}) after sequence {}; this node is at {} and asks "
        "its parent",
        link->peer_node(), entry.group(), entry.source(), after, flow.last);
    FlowState::Repair repair;
    repair.link = link;
    repair.next = after + 1;
    repair.until = until;
    repair.deadline = now + options_.repair_timeout;
    flow.repairs.push_back(std::move(repair));
    return;
  }
  spdlog::info("child {} resumes flow ({}, {}) after sequence {}; this node is at {}",
               link->peer_node(), entry.group(), entry.source(), after, flow.last);
  FlowState::Repair repair;
  repair.link = link;
  repair.next = after + 1;
  repair.until = until;
  repair.deadline = absl::Now() + options_.repair_timeout;
  flow.repairs.push_back(std::move(repair));
  AdvanceRepairs(&entry, flow);
}

void Relay::FlowState::Repair::Send(const wire::FramePtr& frame) const {
  if (link) {
    link->Send(frame);
  } else {
    subscriber->Push(DeliveryItem{frame, names});
  }
}

void Relay::FlowState::Repair::SendGap(uint32_t group_handle, uint32_t source_id, uint64_t first,
                                       uint64_t next) const {
  if (link) link->Send(wire::MakeGap({group_handle, source_id, first, next}));
}

absl::Status Relay::ResendToSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber,
                                       uint32_t group_handle, uint32_t source_id, uint64_t after,
                                       uint64_t until) {
  if (until <= after) return absl::InvalidArgumentError("empty resend range");
  std::optional<v1::FlowEntry> entry = state_.FindByIds(group_handle, source_id);
  if (!entry || entry->group() != subscriber->group()) {
    return absl::NotFoundError(absl::StrCat("no flow (", group_handle, ", ", source_id,
                                            ") of group ", subscriber->group(), " here"));
  }
  std::shared_ptr<FlowState> flow = FindFlow(entry->group(), entry->source());
  if (flow == nullptr) return absl::NotFoundError("the flow has not reached this node");
  absl::MutexLock flow_lock(&flow->mu);
  FlowState::Repair repair;
  repair.subscriber = subscriber;
  repair.names = std::make_shared<const FlowNames>(FlowNames{entry->group(), entry->source()});
  repair.next = after + 1;
  repair.until = std::min(until, flow->last);
  if (repair.until < repair.next) return absl::OkStatus();  // nothing delivered yet to resend
  repair.deadline = absl::Now() + options_.repair_timeout;
  flow->repairs.push_back(std::move(repair));
  {
    absl::MutexLock lock(&mu_);
    ++counters_.resumes_served;
  }
  AdvanceRepairs(&*entry, *flow);
  return absl::OkStatus();
}

void Relay::AdvanceRepairs(const v1::FlowEntry* entry, FlowState& flow) {
  FeedRepairs(flow);
  if (flow.repairs.empty()) return;
  const absl::Time now = absl::Now();
  bool expire_now = false;
  for (FlowState::Repair& r : flow.repairs) {
    if (r.next <= r.asked_until || flow.ring.Get(r.next) != nullptr) continue;
    if (r.next > flow.last) continue;  // waits for frames this node has not had yet
    // Stuck: ask upstream for what is missing up to the next frame held.
    const uint64_t held = FirstHeldFrom(flow.ring, r.next, flow.last);
    r.asked_until = held - 1;
    r.deadline = now + options_.repair_timeout;
    if (entry == nullptr || entry->parent().empty() || !AskParent(*entry, r.next, held - 1)) {
      r.deadline = absl::InfinitePast();  // nobody further up: lost
      expire_now = true;
    }
  }
  if (expire_now && entry != nullptr) ExpireRepairs(*entry, flow, now);
}

bool Relay::AskParent(const v1::FlowEntry& entry, uint64_t first, uint64_t last) {
  if (last != 0 && last < first) return false;
  std::shared_ptr<wire::InboundLink> link = ParentLink(entry);
  if (link == nullptr) return false;
  {
    absl::MutexLock lock(&mu_);
    ++counters_.resumes_sent;
  }
  wire::FramePtr resume =
      wire::MakeResume({entry.group_handle(), entry.source_id(), first - 1, last});
  asio::post(io_, [link, resume] { link->Send(resume); });
  return true;
}

void Relay::FeedRepairs(FlowState& flow) {
  uint64_t replayed = 0;
  std::erase_if(flow.repairs, [&](FlowState::Repair& r) {
    if (r.closed()) return true;
    const uint64_t end = r.until == 0 ? flow.last : std::min(r.until, flow.last);
    std::vector<wire::FramePtr> run = flow.ring.Consecutive(r.next, end);
    for (const wire::FramePtr& f : run) r.Send(f);
    if (!run.empty()) r.deadline = absl::Now() + options_.repair_timeout;  // progress
    r.next += run.size();
    replayed += run.size();
    return r.next > end;
  });
  if (replayed == 0) return;
  absl::MutexLock lock(&mu_);
  counters_.frames_replayed += replayed;
}

void Relay::ExpireRepairs(const v1::FlowEntry& entry, FlowState& flow, absl::Time now) {
  uint64_t lost = 0;
  for (FlowState::Repair& r : flow.repairs) {
    if (now < r.deadline) continue;
    if (r.closed() || flow.ring.Get(r.next) != nullptr) continue;
    const uint64_t next = FirstHeldFrom(flow.ring, r.next, flow.last);
    if (next <= r.next) continue;
    spdlog::warn("flow ({}, {}): sequences [{}, {}) are held nowhere upstream; telling {}",
                 entry.group(), entry.source(), r.next, next, r.who());
    r.SendGap(entry.group_handle(), entry.source_id(), r.next, next);
    lost += next - r.next;
    r.next = next;
    r.asked_until = 0;
    r.deadline = now + options_.repair_timeout;
  }
  FeedRepairs(flow);
  if (lost == 0) return;
  absl::MutexLock lock(&mu_);
  counters_.sequences_lost += lost;
}

std::vector<std::pair<std::pair<std::string, std::string>, std::shared_ptr<Relay::FlowState>>>
Relay::FlowsSnapshot() const {
  absl::MutexLock lock(&mu_);
  return {flows_.begin(), flows_.end()};
}

void Relay::ResendMulticastTails(absl::Time now) {
  for (auto& [key, flow] : FlowsSnapshot()) {
    absl::MutexLock flow_lock(&flow->mu);
    if (!flow->multicast_tail) continue;
    FlowState::MulticastTail& tail = *flow->multicast_tail;
    if (now - tail.sent_at < kTailQuiet) continue;
    if (tail.resent >= kTailResends) {
      flow->multicast_tail.reset();
      continue;
    }
    options_.multicast->Send(tail.group, tail.ttl, *tail.frame).IgnoreError();
    tail.sent_at = now;
    ++tail.resent;
  }
}

void Relay::ExpireAllRepairs(absl::Time now) {
  for (auto& [key, flow] : FlowsSnapshot()) {
    absl::MutexLock flow_lock(&flow->mu);
    if (flow->repairs.empty()) continue;
    std::optional<v1::FlowEntry> entry = state_.Find(key.first, key.second);
    if (!entry) {
      flow->repairs.clear();
      continue;
    }
    ExpireRepairs(*entry, *flow, now);
    AdvanceRepairs(&*entry, *flow);
  }
}

void Relay::OnGap(const wire::FramePtr& frame, const wire::InboundLink& link) {
  absl::StatusOr<wire::GapNotice> gap = wire::ParseGap(*frame);
  if (!gap.ok()) {
    spdlog::warn("ignoring a malformed GAP frame: {}", std::string(gap.status().message()));
    return;
  }
  std::optional<v1::FlowEntry> entry = state_.FindByIds(gap->group_handle, gap->source_id);
  if (!entry) return;
  // Only the flow's parent may declare its frames lost.
  if (!FromParent(*entry, link)) {
    RefuseFrame(entry->group(), absl::StrCat("GAP of source ", entry->source()),
                absl::StrCat(link.peer_node(), " (", link.remote(), ")"),
                entry->parent().empty() ? "no parent" : "parent " + entry->parent());
    return;
  }
  std::shared_ptr<FlowState> flow = Flow(entry->group(), entry->source());
  absl::MutexLock flow_lock(&flow->mu);
  if (gap->first <= flow->last + 1 && gap->next > flow->last + 1) {
    // This node's own next frames are lost upstream: skip them, and pass
    // the notice on so the children skip them too. Subscribers see the
    // jump in sequence numbers.
    spdlog::warn("flow ({}, {}): sequences [{}, {}) were lost upstream", entry->group(),
                 entry->source(), flow->last + 1, gap->next);
    {
      absl::MutexLock lock(&mu_);
      counters_.sequences_lost += gap->next - (flow->last + 1);
    }
    flow->last = gap->next - 1;
    for (const v1::Hop& hop : entry->children()) {
      if (std::shared_ptr<wire::OutboundLink> link = LinkTo(hop)) link->Send(frame);
    }
  }
  // Children waiting for the range skip it as well.
  for (FlowState::Repair& r : flow->repairs) {
    if (r.next >= gap->first && r.next < gap->next) {
      r.SendGap(gap->group_handle, gap->source_id, r.next, gap->next);
      r.next = gap->next;
    }
  }
  AdvanceRepairs(&*entry, *flow);
}

void Relay::ReportGauges() {
  TrafficCounters* t = options_.traffic;
  if (t == nullptr) return;
  std::vector<std::shared_ptr<wire::OutboundLink>> links;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, link] : children_) links.push_back(link);
  }
  absl::flat_hash_map<std::string, uint64_t> ring_bytes;
  for (auto& [key, flow] : FlowsSnapshot()) {
    absl::MutexLock flow_lock(&flow->mu);
    ring_bytes[key.first] += flow->ring.bytes();
  }
  for (const auto& [group, bytes] : ring_bytes) t->SetReplayBytes(group, bytes);
  for (const auto& link : links) t->SetLinkQueueBytes(link->peer_node(), link->QueuedBytes());
  uint64_t subscriber_bytes = 0;
  for (const auto& [group, counts] : clients_.CountsByGroup()) {
    for (const auto& subscriber : clients_.Subscribers(group)) {
      subscriber_bytes += subscriber->QueuedBytes();
    }
  }
  t->SetSubscriberQueueBytes(subscriber_bytes);
}

RelayCounters Relay::counters() const {
  absl::MutexLock lock(&mu_);
  RelayCounters c = counters_;
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
