#include "controller/report_dispatcher.h"

#include <utility>

#include "absl/status/status.h"

namespace canopy::controller {

ReportDispatcher::ReportDispatcher(ControllerCore& core, EdgeRates* rates)
    : core_(core), rates_(rates) {
  thread_ = std::thread([this] { Run(); });
}

ReportDispatcher::~ReportDispatcher() { Stop(); }

void ReportDispatcher::Stop() {
  std::deque<Item> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    dropped.swap(queue_);
    pending_.clear();
    channels_.clear();
    node_ids_.clear();
  }
  for (Item& item : dropped) {
    if (item.done) item.done(absl::UnavailableError("the controller is stopping"));
  }
}

void ReportDispatcher::Attach(v1::NodeHello hello, std::shared_ptr<NodeChannel> channel,
                              absl::Time now, std::function<void(absl::StatusOr<uint64_t>)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      Item item;
      item.kind = Item::Kind::kAttach;
      item.hello = std::move(hello);
      item.channel = std::move(channel);
      item.now = now;
      item.done = std::move(done);
      queue_.push_back(std::move(item));
      return;
    }
  }
  done(absl::UnavailableError("the controller is stopping"));
}

void ReportDispatcher::Report(uint64_t session, const v1::NodeReport& report, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  auto [it, inserted] = pending_.try_emplace(session);
  Pending& p = it->second;
  p.received = now;
  switch (report.body_case()) {
    case v1::NodeReport::kMembership:
      p.membership = report.membership();
      break;
    case v1::NodeReport::kSources:
      p.sources = report.sources();
      break;
    case v1::NodeReport::kRtts:
      for (const v1::PeerRtt& r : report.rtts().peers()) p.rtts[r.node_id()] = r.rtt_us();
      p.has_rtts = true;
      break;
    case v1::NodeReport::kMulticastPeers:
      p.multicast_peers = report.multicast_peers();
      break;
    case v1::NodeReport::kTraffic:
      p.traffic = report.traffic();
      p.traffic_received = now;
      break;
    default:
      if (inserted) pending_.erase(it);
      return;
  }
  if (!inserted) return;  // its item is queued already
  Item item;
  item.kind = Item::Kind::kReports;
  item.session = session;
  queue_.push_back(std::move(item));
}

void ReportDispatcher::Detach(uint64_t session) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  Item item;
  item.kind = Item::Kind::kDetach;
  item.session = session;
  queue_.push_back(std::move(item));
}

size_t ReportDispatcher::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void ReportDispatcher::Run() {
  for (;;) {
    Item item;
    std::optional<Pending> pending;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      if (item.kind == Item::Kind::kReports) {
        auto it = pending_.find(item.session);
        if (it == pending_.end()) continue;
        pending = std::move(it->second);
        pending_.erase(it);
      }
    }
    Process(std::move(item), std::move(pending));
  }
}

void ReportDispatcher::Process(Item item, std::optional<Pending> pending) {
  switch (item.kind) {
    case Item::Kind::kAttach: {
      absl::StatusOr<uint64_t> session = core_.Attach(item.hello, item.channel.get(), item.now);
      if (session.ok()) {
        absl::MutexLock lock(&mu_);
        channels_[*session] = item.channel;
        node_ids_[*session] = item.hello.node_id();
      }
      item.done(std::move(session));
      return;
    }
    case Item::Kind::kReports: {
      const uint64_t s = item.session;
      if (pending->sources) core_.OnSources(s, *pending->sources, pending->received);
      if (pending->membership) core_.OnMembership(s, *pending->membership, pending->received);
      if (pending->has_rtts) {
        v1::RttReport rtts;
        for (const auto& [peer, us] : pending->rtts) {
          v1::PeerRtt* r = rtts.add_peers();
          r->set_node_id(peer);
          r->set_rtt_us(us);
        }
        core_.OnRtts(s, rtts, pending->received);
      }
      if (pending->multicast_peers) {
        core_.OnMulticastPeers(s, *pending->multicast_peers, pending->received);
      }
      if (pending->traffic && rates_ != nullptr) {
        std::string node;
        {
          absl::MutexLock lock(&mu_);
          if (auto it = node_ids_.find(s); it != node_ids_.end()) node = it->second;
        }
        if (!node.empty()) rates_->Record(s, node, *pending->traffic, pending->traffic_received);
      }
      return;
    }
    case Item::Kind::kDetach: {
      core_.Detach(item.session);
      if (rates_ != nullptr) rates_->Forget(item.session);
      absl::MutexLock lock(&mu_);
      channels_.erase(item.session);
      node_ids_.erase(item.session);
      pending_.erase(item.session);
      return;
    }
  }
}

}  // namespace canopy::controller
