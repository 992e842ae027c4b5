#ifndef CANOPY_BENCH_CONTROLLER_SIM_NODE_H_
#define CANOPY_BENCH_CONTROLLER_SIM_NODE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace canopy::bench {

// One simulated node: an Attach stream to a real controller over gRPC (the
// callback API, no thread of its own), which sends what the caller queues
// and keeps what a benchmark needs of the answers: tables received, the
// latest probe peers, and the time from each membership report to its
// MembershipAck (the controller acks once the resulting tables are pushed).
//
// Thread-safe. The caller must not destroy it before Done() (Cancel() ends
// the stream).
class SimulatedNode final : public grpc::ClientBidiReactor<v1::NodeReport, v1::NodeInstruction> {
 public:
  SimulatedNode(v1::Controller::Stub* stub, v1::NodeHello hello);

  // Opens the stream; the hello goes first.
  void Start();
  // Queues a report (written in order, one at a time).
  void Send(v1::NodeReport report);
  // Queues a complete membership report of `groups` (every source) with the
  // next sequence number, and times it until its ack.
  void SendMembership(const std::vector<std::string>& groups);
  // Queues a heartbeat naming the last table version received.
  void SendHeartbeat();
  // Ends the stream.
  void Cancel();
  // Waits until the stream ended (OnDone); false at the deadline.
  bool WaitDone(absl::Duration timeout);

  const std::string& id() const { return id_; }
  bool done() const;
  // True once the first ProbePeers arrived: the controller's planner has
  // the node (its first table waits for its first membership report).
  bool attached() const;
  uint64_t tables() const;
  v1::ProbePeers probe_peers() const;
  // Report → ack latencies recorded since the last call, in ms.
  std::vector<double> TakeAckLatencies();
  // Membership reports still waiting for their ack.
  size_t unacked() const;
  // The status the stream ended with (OK before Done).
  grpc::Status status() const;

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  // Starts the next queued write if none is in flight.
  void WriteNext() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string id_;
  grpc::ClientContext context_;
  v1::NodeInstruction incoming_;  // owned by the read in flight
  v1::NodeReport outgoing_;       // owned by the write in flight

  mutable absl::Mutex mu_;
  std::deque<v1::NodeReport> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // a write failed: the stream is ending
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  uint64_t tables_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, absl::Time> sent_ ABSL_GUARDED_BY(mu_);  // seq → when queued
  std::vector<double> ack_ms_ ABSL_GUARDED_BY(mu_);
  v1::ProbePeers probe_peers_ ABSL_GUARDED_BY(mu_);
  bool probed_ ABSL_GUARDED_BY(mu_) = false;  // a ProbePeers arrived
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_CONTROLLER_SIM_NODE_H_
