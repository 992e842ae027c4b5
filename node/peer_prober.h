#ifndef CANOPY_NODE_PEER_PROBER_H_
#define CANOPY_NODE_PEER_PROBER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "canopy/v1/controller.pb.h"
#include "proto/network_coordinate.h"
#include "wire/outbound_link.h"

namespace canopy::node {

struct PeerProberOptions {
  std::string node_id;
  // A PING to every peer this often.
  absl::Duration probe_interval = absl::Seconds(1);
  // The smoothed RTTs go to the controller this often.
  absl::Duration report_interval = absl::Seconds(3);
  // Peers beyond this many are not probed.
  size_t max_peers = 256;
  // Mutual TLS on the probe links, as on the relay's data links.
  wire::LinkTls tls;
};

// Measures round-trip times to the peers the controller names: keeps one
// probe link (HELLO marked as a probe, then PING frames) to each peer's data
// endpoint (with TLS when the relay's links use it), times each PONG, and smooths the samples (RFC
// 6298 style, alpha = 1/8). Reports every peer with a sample; a peer whose link failed is reported
// as 0 (unreachable) once. Each sample also moves this node's network
// coordinate (Vivaldi, proto/network_coordinate.h) against the peer's
// coordinate from the controller's list; the report carries it once it has
// learnt from a sample.
//
// Thread-safe. I/O runs on one internal thread.
class PeerProber {
 public:
  using ReportFn = std::function<void(const v1::RttReport&)>;

  PeerProber(PeerProberOptions options, ReportFn report);
  PeerProber(const PeerProber&) = delete;
  PeerProber& operator=(const PeerProber&) = delete;
  ~PeerProber();

  // Starts the probing thread.
  void Start();
  // Closes the probe links and joins the thread. Idempotent.
  void Stop();

  // Replaces the set of peers (the controller's ProbePeers list).
  void SetPeers(const v1::ProbePeers& peers);

  // Smoothed RTT to `peer` in µs; 0 if there is no sample.
  uint64_t SmoothedRttUs(const std::string& peer) const;

  // This node's network coordinate now.
  NetworkCoordinate Coordinate() const;

 private:
  struct Peer {
    std::string data_address;
    std::shared_ptr<wire::OutboundLink> link;
    double srtt_us = 0;   // 0 = no sample yet
    bool failed = false;  // the link closed with an error since the last report
    std::optional<NetworkCoordinate> coordinate;  // as the controller last sent it
  };

  void Tick();
  void ScheduleTick();
  void OnPong(const std::string& peer, wire::FramePtr frame);
  void Report();

  const PeerProberOptions options_;
  const ReportFn report_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
  absl::Time next_report_;  // I/O thread only

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
  VivaldiClient vivaldi_ ABSL_GUARDED_BY(mu_);
  uint64_t coordinate_samples_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_PEER_PROBER_H_
