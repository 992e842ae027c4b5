#ifndef CANOPY_NODE_CONTROLLER_SESSION_H_
#define CANOPY_NODE_CONTROLLER_SESSION_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "grpcpp/security/credentials.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"

namespace canopy::node {

struct ControllerSessionOptions {
  // HOST:PORT of each controller replica (canopy-node --controller A,B,C):
  // the node attaches to the first that leads, follows a follower's
  // redirect to the leader, and tries the next on failure.
  std::vector<std::string> controller_addresses;
  // How to reach the controller: mutual TLS (base/tls_credentials.h) or,
  // when null, plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  // Membership and sources are soft state: re-sent this often.
  absl::Duration refresh_interval = absl::Seconds(5);
  // Reconnecting after the stream broke waits a random time up to the
  // current backoff, which starts here and doubles up to the cap; it starts
  // over once the controller answered. It does not grow while followers
  // answer (an election is under way and a leader is due any moment).
  absl::Duration reconnect_initial = absl::Milliseconds(250);
  absl::Duration reconnect_max = absl::Seconds(4);
  // A controller that sent nothing (not even its 500 ms LeaderBeat) for
  // this long is taken for gone (paused, cut off): the node attaches again,
  // to the leader.
  absl::Duration controller_silence = absl::Seconds(2);
  // Called with true once the controller answers a new stream (the node is
  // attached) and with false when that stream ends. Runs on the session's
  // stream thread; must not block. May be empty.
  std::function<void(bool attached)> on_attached;
  // Called with each list of peers to probe for RTTs. Runs on the stream
  // thread; must not block. May be empty.
  std::function<void(const v1::ProbePeers&)> on_probe_peers;
  // Builds the node's traffic report (edge_report.h), sent every
  // traffic_interval while attached. Runs on the writer thread; must not
  // block on a peer. May be empty: no traffic reports.
  std::function<v1::TrafficReport()> traffic_report;
  absl::Duration traffic_interval = absl::Seconds(1);
};

// The node's Attach stream to the controller: sends hello, the soft-state
// membership and source reports (again after every reconnect), heartbeats
// and traffic reports; applies the tables, policies, rejections and acks it gets
// back. When the controller is away the node keeps forwarding with its last
// table and reconnects with exponential backoff and jitter, logging each
// change of state once.
//
// Replicas: the session follows a follower's redirect to the leader, tries
// the other given addresses, and leaves a controller that has been silent
// for options.controller_silence. It remembers the highest leader term it
// has seen (LeaderBeat, ForwardingTable.term): a table or beat of a lower
// term comes from a deposed leader; it is ignored and the stream ended.
//
// Reports are written by a writer thread of the session's own: callers
// (local clients joining, the prober) never wait for the controller, and a
// controller that does not read stalls only that thread.
//
// Thread-safe.
class ControllerSession {
 public:
  ControllerSession(ControllerSessionOptions options, ForwardingState& state, LocalClients& clients,
                    std::function<void()> on_table_changed);
  ControllerSession(const ControllerSession&) = delete;
  ControllerSession& operator=(const ControllerSession&) = delete;
  ~ControllerSession();

  // Starts the session threads; every stream opens with `hello` (the node's
  // id, the addresses it serves on, its capacities). The hello is given
  // here, not at construction, because the addresses are known only once
  // the node's servers are bound, while local clients already report to the
  // session. REQUIRES: called once.
  void Start(v1::NodeHello hello);
  // Ends the stream and joins the threads. Idempotent.
  void Stop();

  // Sends fresh membership and source snapshots soon (call on every local
  // change). Never blocks.
  void ReportLocalState();

  // Sends measured round-trip times soon; false if no stream is up. Never
  // blocks.
  bool ReportRtts(const v1::RttReport& rtts);
  // Sends the nodes heard on the LAN's discovery group soon. Never blocks.
  bool ReportMulticastPeers(const std::vector<std::string>& node_ids);

  // True while a stream to the controller is up.
  bool connected() const;
  // The highest leader term seen (0 before any, and without etcd).
  uint64_t leader_term() const;
  // Tables ignored because their term was stale.
  uint64_t stale_tables() const;

 private:
  // A channel and stub to one controller address.
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Controller::Stub> stub;
  };

  void RunStream();
  void RunWriter();
  // Writes one report on the current stream; false if there is none or it
  // broke. REQUIRES: the writer thread, or hello time on the stream thread.
  bool Write(const v1::NodeReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // Applies one instruction; false if it came from a deposed leader (the
  // stream must end).
  bool Apply(const v1::NodeInstruction& instruction);
  // The connection to `address`, made on first use.
  Connection& ConnectionTo(const std::string& address);

  const ControllerSessionOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;
  const std::function<void()> on_table_changed_;
  // Set by Start before the threads begin; read-only after.
  v1::NodeHello hello_;
  // One per controller address; only the stream thread uses them.
  std::map<std::string, Connection> connections_;

  absl::Notification stopping_;
  std::thread stream_thread_;
  std::thread writer_thread_;

  // Held while writing to the stream (only one writer at a time); taken
  // before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientReaderWriter<v1::NodeReport, v1::NodeInstruction>* stream_ ABSL_GUARDED_BY(mu_) =
      nullptr;
  bool hello_sent_ ABSL_GUARDED_BY(mu_) = false;
  // What the writer owes the controller.
  bool local_state_due_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::RttReport> rtts_due_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::MulticastPeers> peers_due_ ABSL_GUARDED_BY(mu_);
  // When the current stream last brought an instruction.
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  uint64_t leader_term_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stale_tables_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_CONTROLLER_SESSION_H_
