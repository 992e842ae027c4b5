#include "node/relay.h"

#include <atomic>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/post.hpp"
#include "proto/source_filter.h"
#include "spdlog/spdlog.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {
constexpr auto kWatcherExpiryInterval = std::chrono::milliseconds(250);
}  // namespace

Relay::Relay(RelayOptions options, ForwardingState& state, LocalClients& clients)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      work_(asio::make_work_guard(io_)),
      expiry_timer_(io_) {}

Relay::~Relay() { Stop(); }

absl::StatusOr<wire::Endpoint> Relay::Start(const wire::Endpoint& data_address) {
  auto listener = wire::LinkListener::Open(io_, data_address, options_.max_payload,
                                           [this](wire::FramePtr frame, wire::InboundLink& link) {
                                             OnInboundFrame(std::move(frame), link);
                                           });
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
  link_options.high_watermark_bytes = options_.link_high_watermark_bytes;
  link_options.low_watermark_bytes = options_.link_low_watermark_bytes;
  std::string child = hop.node_id();
  auto link = wire::OutboundLink::Start(io_, child, wire::Endpoint{address->host, address->port},
                                        link_options, [this, child](const absl::Status& status) {
                                          if (!status.ok())
                                            spdlog::warn("link to child {} closed: {}", child,
                                                         std::string(status.message()));
                                        });
  children_[child] = link;
  return link;
}

Relay::Pressure Relay::Dispatch(const v1::FlowEntry* entry,
                                const std::shared_ptr<const FlowNames>& names,
                                const wire::FramePtr& frame) {
  Pressure pressure;
  // `realtime` receivers drop their own oldest frames instead of pushing
  // back, so a slow one never slows the others.
  const bool realtime =
      entry != nullptr && entry->slow_receiver() == v1::SLOW_RECEIVER_REALTIME;
  if (entry != nullptr) {
    for (const v1::Hop& hop : entry->children()) {
      std::shared_ptr<wire::OutboundLink> link = LinkTo(hop);
      if (link == nullptr) continue;
      if (realtime) {
        link->SendDroppingOldest(frame);
        continue;
      }
      if (!link->Send(frame)) continue;
      if (link->OverHighWatermark()) pressure.links.push_back(std::move(link));
    }
  }
  for (auto& subscriber : clients_.Subscribers(names->group)) {
    if (!Admits(subscriber->filter(), names->source)) continue;
    if (realtime) {
      subscriber->PushDroppingOldest(DeliveryItem{frame, names});
      continue;
    }
    if (!subscriber->Push(DeliveryItem{frame, names})) continue;
    if (subscriber->OverHighWatermark()) pressure.subscribers.push_back(std::move(subscriber));
  }
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

uint64_t Relay::PublishLocal(const std::string& group, const std::string& source,
                             absl::string_view payload) {
  std::optional<v1::FlowEntry> entry = state_.Find(group, source);
  auto names = std::make_shared<const FlowNames>(FlowNames{group, source});
  uint64_t sequence;
  Pressure pressure;
  {
    // Sequence and hand-off under one lock: two local publishers of one flow
    // must not reorder it.
    absl::MutexLock publishing(&publish_mu_);
    {
      absl::MutexLock lock(&mu_);
      sequence = ++last_sequence_[{group, source}];
    }
    wire::FramePtr frame =
        wire::Frame::Make(wire::FrameType::kData, entry ? entry->group_handle() : 0,
                          entry ? entry->source_id() : 0, sequence, payload);
    pressure = Dispatch(entry ? &*entry : nullptr, names, frame);
  }
  if (!pressure.empty()) {
    absl::Notification drained;
    AwaitDrain(std::move(pressure), [&drained] { drained.Notify(); });
    drained.WaitForNotification();
  }
  return sequence;
}

void Relay::OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link) {
  HandleInbound(frame, link.shared_from_this());
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
    state_.WhenFlowKnown(h.group_handle, h.source_id, absl::Now() + options_.unknown_flow_wait,
                         [this, frame, link](bool known) {
                           asio::post(io_, [this, frame, link, known] {
                             if (!known) {
                               {
                                 absl::MutexLock lock(&mu_);
                                 ++unknown_flow_dropped_;
                               }
                               spdlog::warn(
                                   "dropping frame of unknown flow (group {}, source {}) from {}",
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
  if (absl::Status allowed = state_.CheckAllowed(entry->group(), entry->source());
      !allowed.ok()) {
    absl::MutexLock lock(&mu_);
    if (disallowed_dropped_++ == 0) {
      spdlog::warn("dropping frames of a source the group does not allow: {}",
                   allowed.ToString());
    }
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    uint64_t& last = last_sequence_[{entry->group(), entry->source()}];
    if (h.sequence <= last) {
      ++duplicates_dropped_;
      return false;
    }
    last = h.sequence;
  }
  auto names = std::make_shared<const FlowNames>(FlowNames{entry->group(), entry->source()});
  Pressure pressure = Dispatch(&*entry, names, frame);
  if (pressure.empty()) return false;
  link->Pause();
  AwaitDrain(std::move(pressure), [link] { link->Resume(); });
  return true;
}

void Relay::OnTableChanged() {
  absl::flat_hash_set<std::string> children;
  absl::flat_hash_set<std::pair<std::string, std::string>> live_flows;
  // Retired flows keep their links and sequence state while frames that
  // were in flight drain.
  for (const auto& entries : {state_.Entries(), state_.RetiredEntries()}) {
    for (const v1::FlowEntry& e : entries) {
      live_flows.insert({e.group(), e.source()});
      for (const v1::Hop& hop : e.children()) children.insert(hop.node_id());
    }
  }
  const v1::SourceReport local_sources = clients_.SourceSnapshot();
  for (const v1::SourceKey& k : local_sources.sources()) {
    live_flows.insert({k.group(), k.source()});
  }
  std::vector<std::shared_ptr<wire::OutboundLink>> stale;
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
    absl::erase_if(last_sequence_, [&](const auto& kv) { return !live_flows.contains(kv.first); });
  }
  for (auto& link : stale) link->Close();
}

uint64_t Relay::duplicates_dropped() const {
  absl::MutexLock lock(&mu_);
  return duplicates_dropped_;
}

uint64_t Relay::disallowed_dropped() const {
  absl::MutexLock lock(&mu_);
  return disallowed_dropped_;
}

uint64_t Relay::unknown_flow_dropped() const {
  absl::MutexLock lock(&mu_);
  return unknown_flow_dropped_;
}

}  // namespace canopy::node
