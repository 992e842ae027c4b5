#ifndef CANOPY_CONTROLLER_LEADER_ELECTION_H_
#define CANOPY_CONTROLLER_LEADER_ELECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/etcd_client.h"
#include "controller/leadership.h"
#include "etcd/v3electionpb/v3election.pb.h"
#include "grpcpp/client_context.h"

namespace canopy::controller {

struct LeaderElectionOptions {
  // Key prefix of the deployment in etcd (canopy-controller --etcd-prefix):
  // the election is PREFIX "leader", replicas register under
  // PREFIX "replicas/".
  std::string prefix = "/canopy/";
  // The lease that holds leadership: a leader that stops renewing it (dead,
  // paused, cut off) loses it this long after its last renewal
  // (canopy-controller --etcd-lease-ttl-ms; etcd counts whole seconds).
  absl::Duration lease_ttl = absl::Seconds(5);
  // This replica's build, shown among the replicas.
  std::string version;
  // Called on the election thread once this replica won, with the term and
  // the leader key, before it counts as leading (the store loads here).
  // An error gives the leadership up and campaigns again.
  std::function<absl::Status(uint64_t term, const std::string& leader_key)> on_elected;
  // Called on the election thread once this replica no longer leads (its
  // lease is gone), before it campaigns again.
  std::function<void()> on_deposed;
  // Told every lease renewal's outcome: OK, or why etcd did not answer.
  std::function<void(const absl::Status&)> on_reachability;
};

// Leadership by etcd's lease-based election (the Election service): every
// replica holds a lease, registers itself under the replicas prefix with
// it, and campaigns; the one elected leads until its lease is gone. Its
// term is the leader key's creation revision, which grows with every new
// leadership.
//
// Fencing: a leader may push (PushTerm) while its lease is certainly alive
// (its last renewal was sent less than the TTL ago). Past that it pushes
// nothing until etcd answered a renewal sent after the deadline: "gone" —
// it steps down without having pushed (a leader paused with SIGSTOP past
// its lease); "alive" — it goes on. If etcd does not answer at all (it
// lost its quorum, or this replica is cut off from it), the leader goes on
// leading from its last state, as nobody can be elected meanwhile, and
// nodes ignore its tables once they have seen a newer term.
//
// Followers learn the leader's address by observing the election.
//
// Thread-safe.
class LeaderElection final : public Leadership {
 public:
  LeaderElection(EtcdClient& client, LeaderElectionOptions options);
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;
  ~LeaderElection() override;

  // Starts campaigning as `self_address` (HOST:PORT the others name as the
  // leader's).
  void Start(const std::string& self_address);
  // Gives leadership up (resigns, revokes the lease so another replica takes
  // over at once) and stops. Idempotent.
  void Stop();

  bool leading() const override;
  uint64_t term() const override;
  std::optional<uint64_t> PushTerm(absl::Time now) const override;
  std::string leader_address() const override;
  std::string self_address() const override;
  std::vector<v1::Replica> Replicas() const override;
  std::vector<v1::EtcdEndpoint> EtcdEndpoints() const override;

 private:
  void RunElection();
  void RunKeepAlive();
  void RunObserver();
  // Waits on stop_ for `d`; true if stopping.
  bool Sleep(absl::Duration d) { return stop_.WaitForNotificationWithTimeout(d); }

  EtcdClient& client_;
  const LeaderElectionOptions options_;
  const std::string election_name_;
  const std::string replicas_prefix_;

  absl::Notification stop_;
  std::thread election_thread_;
  std::thread keepalive_thread_;
  std::thread observer_thread_;

  mutable absl::Mutex mu_;
  std::string self_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  // The lease is certainly alive until then (last renewal sent + TTL).
  absl::Time lease_valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // When the latest renewal that etcd did not answer was sent.
  absl::Time unanswered_sent_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool lease_lost_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t term_ ABSL_GUARDED_BY(mu_) = 0;
  v3electionpb::LeaderKey leader_key_ ABSL_GUARDED_BY(mu_);
  // The leader as observed (followers).
  std::string observed_leader_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* campaign_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* observe_context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_LEADER_ELECTION_H_
