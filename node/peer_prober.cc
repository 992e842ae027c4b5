#include "node/peer_prober.h"

#include <chrono>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "base/address.h"
#include "boost/asio/post.hpp"
#include "spdlog/spdlog.h"
#include "wire/control_frames.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {

uint64_t SteadyNowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

PeerProber::PeerProber(PeerProberOptions options, ReportFn report)
    : options_(std::move(options)),
      report_(std::move(report)),
      work_(asio::make_work_guard(io_)),
      timer_(io_),
      vivaldi_(std::hash<std::string>{}(options_.node_id)) {}

PeerProber::~PeerProber() { Stop(); }

void PeerProber::Start() {
  next_report_ = absl::Now() + options_.report_interval;
  ScheduleTick();
  thread_ = std::thread([this] { io_.run(); });
}

void PeerProber::Stop() {
  absl::flat_hash_map<std::string, Peer> peers;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    peers = std::move(peers_);
  }
  for (auto& [id, p] : peers) {
    if (p.link) p.link->Close();
  }
  if (thread_.joinable()) {
    asio::post(io_, [this] { timer_.cancel(); });
    work_.reset();
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
}

void PeerProber::SetPeers(const v1::ProbePeers& list) {
  std::vector<std::shared_ptr<wire::OutboundLink>> dropped;
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  absl::flat_hash_set<std::string> wanted;
  for (const v1::Hop& hop : list.peers()) {
    if (wanted.size() >= options_.max_peers) break;
    if (hop.node_id() == options_.node_id) continue;
    wanted.insert(hop.node_id());
    Peer& p = peers_[hop.node_id()];
    if (p.data_address != hop.data_address()) {
      if (p.link) dropped.push_back(std::move(p.link));
      p = Peer{};
      p.data_address = hop.data_address();
    }
    if (hop.has_coordinate()) {
      absl::StatusOr<NetworkCoordinate> c = CoordinateFromProto(hop.coordinate());
      if (c.ok()) p.coordinate = *c;
    }
  }
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.link) dropped.push_back(std::move(it->second.link));
    vivaldi_.Forget(it->first);
    peers_.erase(it++);
  }
  for (auto& link : dropped) link->Close();
}

uint64_t PeerProber::SmoothedRttUs(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : static_cast<uint64_t>(it->second.srtt_us + 0.5);
}

void PeerProber::ScheduleTick() {
  timer_.expires_after(std::chrono::microseconds(absl::ToInt64Microseconds(options_.probe_interval)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Tick();
    ScheduleTick();
  });
}

void PeerProber::Tick() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    for (auto& [id, p] : peers_) {
      if (p.link != nullptr && p.link->closed()) {
        p.link = nullptr;
        p.failed = true;
        p.srtt_us = 0;
      }
      if (p.link == nullptr) {
        absl::StatusOr<HostPort> address = ParseHostPort(p.data_address);
        if (!address.ok()) continue;
        wire::OutboundLinkOptions link_options;
        link_options.local_node_id = options_.node_id + std::string(wire::kProbeHelloSuffix);
        link_options.connect_timeout = options_.probe_interval;
        link_options.tls = options_.tls;
        std::string peer = id;
        link_options.on_control = [this, peer](wire::FramePtr frame, const std::shared_ptr<wire::QueuedLink>&) {
          OnPong(peer, std::move(frame));
        };
        p.link = wire::OutboundLink::Start(io_, id, wire::Endpoint{address->host, address->port},
                                           link_options, nullptr);
      }
      // A probe still queued means the last one is unanswered: don't pile up.
      if (p.link->QueuedBytes() == 0) p.link->Send(wire::MakePing(SteadyNowNs()));
    }
  }
  if (absl::Now() >= next_report_) {
    next_report_ = absl::Now() + options_.report_interval;
    Report();
  }
}

void PeerProber::OnPong(const std::string& peer, wire::FramePtr frame) {
  absl::StatusOr<uint64_t> sent_at = wire::ParsePong(*frame);
  if (!sent_at.ok()) return;
  const uint64_t now = SteadyNowNs();
  if (*sent_at > now) return;  // not a time this process sent
  const double sample_us = static_cast<double>(now - *sent_at) / 1000.0;
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  p.srtt_us = p.srtt_us == 0 ? sample_us : p.srtt_us + (sample_us - p.srtt_us) / 8.0;
  // A peer with no coordinate yet is where every node starts: at the
  // origin, knowing nothing (Vivaldi's bootstrap).
  if (vivaldi_.Observe(peer, p.coordinate.value_or(NetworkCoordinate{}), sample_us)) {
    ++coordinate_samples_;
  }
}

NetworkCoordinate PeerProber::Coordinate() const {
  absl::MutexLock lock(&mu_);
  return vivaldi_.coordinate();
}

void PeerProber::Report() {
  v1::RttReport report;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, p] : peers_) {
      if (p.srtt_us == 0 && !p.failed) continue;
      v1::PeerRtt* r = report.add_peers();
      r->set_node_id(id);
      // At least 1 µs: 0 means unreachable.
      r->set_rtt_us(p.srtt_us == 0 ? 0 : std::max<uint64_t>(1, static_cast<uint64_t>(p.srtt_us)));
      p.failed = false;
    }
    if (coordinate_samples_ > 0) *report.mutable_coordinate() = CoordinateToProto(vivaldi_.coordinate());
  }
  if (report.peers_size() > 0 && report_) report_(report);
}

}  // namespace canopy::node
