#ifndef CANOPY_CONTROLLER_CONTROLLER_CORE_H_
#define CANOPY_CONTROLLER_CONTROLLER_CORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "controller/leadership.h"
#include "controller/node_channel.h"
#include "controller/planner.h"
#include "controller/policy_store.h"

namespace canopy::controller {

struct ControllerOptions {
  // A node silent for this long is declared dead (3 × the nodes' 500 ms
  // heartbeat). Judged on what the node sends, whatever it reads.
  absl::Duration liveness_timeout = absl::Milliseconds(1500);
  // A node's membership not refreshed for this long expires (soft state).
  absl::Duration membership_timeout = absl::Seconds(15);
  // A node whose oldest queued instruction has waited this long (it does
  // not read its stream) is disconnected; it gets a full snapshot when it
  // attaches again.
  absl::Duration drain_timeout = absl::Seconds(5);
  PlannerOptions planner;
  // Called after every change that was planned and pushed, with what caused
  // it ("attach", "detach", "membership", "sources", "expire", "reoptimize",
  // "replan", "policy", "links", "multicast domains") and the time from the
  // call into the core to the pushed tables. Runs with the planning lock
  // held: must be quick and must not call the core. May be empty.
  std::function<void(const char* event, absl::Duration latency)> on_planned;
  // Who leads (leadership.h); not owned, must outlive the core. Null: this
  // controller alone leads, term 0 (SQLite).
  const Leadership* leadership = nullptr;
};

// The control plane: sessions of attached nodes (liveness, soft-state
// membership and sources), durable policy and static links, and the
// Planner. Every change is planned and the changed forwarding tables are
// pushed (children before a source's ingress node, so data never outruns a
// table).
//
// Three locks, never held while waiting on a peer:
//   - the session lock: who is attached, liveness, what was sent. Attach's
//     registration, heartbeats and ListNodes need only this one.
//   - the planning lock: the Planner. Reports, policy and re-optimisation
//     take it; planning never waits on a node (NodeChannel::Send queues).
//   - the view lock: what inspection reads (trees, members, stats), copied
//     out after each planned change, so inspection never waits on planning.
// Lock order: policy writes, then planning, then sessions, then view.
//
// Replicas: every table is stamped with the leader's term and pushed only
// while Leadership::PushTerm allows; what it holds back is pushed once it
// allows again. A replica that stops leading closes every session
// (StepDown); one that starts leading loads the durable state again
// (LoadDurable) and gets the nodes' soft state as they attach.
//
// Defined in two files: controller_core.cc (sessions, reports, pushes) and
// controller_core_views.cc (policy and static links, inspection).
//
// Thread-safe.
class ControllerCore {
 public:
  // Loads policies and static links from `store`. Returns the store's error
  // if they cannot be read.
  static absl::StatusOr<std::unique_ptr<ControllerCore>> Create(ControllerOptions options,
                                                                PolicyStore& store);
  ControllerCore(const ControllerCore&) = delete;
  ControllerCore& operator=(const ControllerCore&) = delete;

  // Registers a node's new session, plans it in and returns its id. A
  // session with the same node id is closed and replaced if it comes from
  // the same data address (the node restarted) or has been silent; while it
  // is alive at another address the id is in use: AlreadyExists naming that
  // address.
  // REQUIRES: hello was validated; `channel` outlives Detach(session).
  absl::StatusOr<uint64_t> Attach(const v1::NodeHello& hello, NodeChannel* channel, absl::Time now);

  // Removes the session (if still registered) and re-plans.
  void Detach(uint64_t session);

  // The node of `session` sent something at `now` (liveness). Takes only
  // the session lock.
  void Touch(uint64_t session, absl::Time now);

  // Reports and heartbeats of a session. Unknown (expired or replaced)
  // sessions are ignored.
  void OnMembership(uint64_t session, const v1::MembershipReport& report, absl::Time now);
  void OnSources(uint64_t session, const v1::SourceReport& report, absl::Time now);
  void OnRtts(uint64_t session, const v1::RttReport& report, absl::Time now);
  // The nodes this session's node heard on its LAN's discovery group; they
  // form the multicast domains ListNodes shows.
  void OnMulticastPeers(uint64_t session, const v1::MulticastPeers& report, absl::Time now);
  // Takes only the session lock.
  void OnHeartbeat(uint64_t session, const v1::Heartbeat& heartbeat, absl::Time now);

  // Closes sessions silent for longer than the liveness timeout or not
  // draining their instructions within the drain timeout (their streams end
  // and Detach follows), and expires membership not refreshed within the
  // membership timeout.
  void ExpireSilentNodes(absl::Time now);

  // Background re-optimisation (see Planner::Reoptimize).
  void Reoptimize();

  // Re-plans every flow from scratch and pushes what changed.
  void ReplanAll();

  // Sends every attached node a LeaderBeat (and pushes what the fence held
  // back, if it allows now). Call every 500 ms.
  void Beat(absl::Time now);

  // Loads policies, static links and the multicast mapping from the store
  // into the planner again and pushes what changed: when this replica
  // starts leading, and when the store changed under it.
  absl::Status LoadDurable();

  // This replica no longer leads: closes every session (the nodes look for
  // the leader) and forgets their soft state.
  void StepDown();

  // The controller is stopping: sessions that end from now on are not
  // re-planned around and nothing more is pushed, so nodes keep forwarding
  // with their last tables until a controller is back.
  void BeginShutdown();

  // Policy: stored durably, pushed to every node, re-planned.
  absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group);
  // Whether `group` has a stored policy (GetPolicy answers defaults without).
  absl::StatusOr<bool> HasPolicy(const std::string& group);
  absl::Status SetPolicy(const v1::GroupPolicy& policy);

  // Replaces the static links (durably) and re-plans.
  absl::Status SetStaticLinks(const std::vector<StaticLink>& links);

  // Inspection: never waits for planning.
  v1::ListNodesResponse ListNodes() const;
  absl::StatusOr<v1::ListGroupsResponse> ListGroups() const;
  absl::StatusOr<v1::GetTreeResponse> GetTree(const v1::GetTreeRequest& request) const;
  absl::StatusOr<v1::ListMembersResponse> ListMembers(const std::string& group) const;
  v1::ControllerStats Stats() const;
  // Leadership and store for ControllerStatus, without the parts that ask
  // etcd (the caller adds replicas and endpoints).
  v1::ControllerStatus Status() const;
  const Leadership& leadership() const { return *leadership_; }

  // Per group that has member nodes, sources or trees now: how many nodes
  // have subscribers of it, and its tree version (see TreeVersion). For
  // metrics: a group that ended is not listed.
  struct GroupGauges {
    int member_nodes = 0;
    uint64_t tree_version = 0;
  };
  std::map<std::string, GroupGauges> GroupGaugesSnapshot() const;

  // Increases whenever the trees of `group` change. WaitForTreeChange blocks
  // until it exceeds `seen` or `timeout` passes; returns the current value.
  uint64_t TreeVersion(const std::string& group) const;
  uint64_t WaitForTreeChange(const std::string& group, uint64_t seen, absl::Duration timeout) const;

 private:
  struct Session {
    uint64_t id = 0;
    v1::NodeHello hello;
    NodeChannel* channel = nullptr;
    absl::Time last_seen;
    absl::Time membership_refreshed;
    bool has_membership = false;
    // Tables wait until the node's first membership or sources report: a node that
    // just (re)attached keeps forwarding with its last table instead of
    // getting one planned without its soft state.
    bool reported = false;
    bool closing = false;                   // closed by the core; Detach follows
    std::set<std::string> groups;           // with local subscribers
    std::set<std::string> multicast_peers;  // heard on its LAN's discovery group
    std::vector<std::string> probe_peers;   // as last sent in ProbePeers
    std::optional<v1::Coordinate> coordinate;  // as last reported
    v1::ForwardingTable table;              // last sent, without version
    uint64_t version_sent = 0;
    uint64_t version_applied = 0;
  };
  // What inspection reads of one group, rebuilt after each change to it.
  struct GroupView {
    std::vector<v1::SourceTree> trees;
    std::map<std::string, v1::SourceFilter> members;
    std::map<std::string, std::vector<v1::CutOffSource>> cut_off;  // member → sources
    bool has_members_or_sources = false;
  };

  ControllerCore(ControllerOptions options, PolicyStore& store);
  Session* FindSession(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sessions_mu_);
  // Node id → sorted ids of its multicast domain, from what every attached
  // node reported hearing (multicast_domains.h).
  std::map<std::string, std::vector<std::string>> Domains() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sessions_mu_);
  // Sends changed tables and new rejections; refreshes the view of changed
  // groups and bumps their tree versions.
  void Push() ABSL_EXCLUSIVE_LOCKS_REQUIRED(plan_mu_);
  void PushPolicies(Session* only) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sessions_mu_);
  // Sends each of `nodes` the peers it should measure RTTs to.
  void PushProbePeers(const std::vector<std::string>& nodes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(plan_mu_, sessions_mu_);
  // Copies what inspection shows of `groups` (and the stats) out of the
  // planner into the view and, in the same step, bumps the tree versions
  // of `changed`; returns them with their new versions.
  std::vector<std::pair<std::string, uint64_t>> PublishView(const std::set<std::string>& groups,
                                                            const std::set<std::string>& changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(plan_mu_);
  // Reports a planned change to options_.on_planned.
  void Planned(const char* event, absl::Time start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(plan_mu_);
  // Closes a session's stream once (Detach follows when it ends).
  void CloseSession(Session& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sessions_mu_);
  // The LeaderBeat every stream starts with and gets every 500 ms.
  v1::NodeInstruction BeatInstruction(uint64_t term) const;

  const ControllerOptions options_;
  PolicyStore& store_;
  // options_.leadership, or a SoleLeadership of the core's own.
  std::unique_ptr<SoleLeadership> sole_leadership_;
  const Leadership* leadership_;

  // Serialises policy writes: store first (which may wait on etcd), then
  // the planner, without holding the planning lock across the store.
  absl::Mutex policy_mu_ ABSL_ACQUIRED_BEFORE(plan_mu_);

  mutable absl::Mutex plan_mu_ ABSL_ACQUIRED_BEFORE(sessions_mu_);
  Planner planner_ ABSL_GUARDED_BY(plan_mu_);
  bool shutting_down_ ABSL_GUARDED_BY(plan_mu_) = false;
  // Tables the fence held back (Push() found no PushTerm): Beat pushes
  // them once it allows.
  std::atomic<bool> push_owed_{false};
  // Groups whose policy LoadDurable last found in the store.
  std::set<std::string> stored_policy_groups_ ABSL_GUARDED_BY(plan_mu_);

  mutable absl::Mutex sessions_mu_ ABSL_ACQUIRED_BEFORE(view_mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(sessions_mu_) = 1;
  std::map<std::string, Session> nodes_ ABSL_GUARDED_BY(sessions_mu_);  // node id → session
  // Session id → node id, for every session in nodes_ (FindSession runs
  // on every report: a scan of nodes_ made each report O(nodes)).
  absl::flat_hash_map<uint64_t, std::string> node_of_session_ ABSL_GUARDED_BY(sessions_mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(sessions_mu_) = 1;
  uint64_t tables_pushed_ ABSL_GUARDED_BY(sessions_mu_) = 0;
  uint64_t nodes_expired_ ABSL_GUARDED_BY(sessions_mu_) = 0;
  uint64_t nodes_disconnected_stuck_ ABSL_GUARDED_BY(sessions_mu_) = 0;

  mutable absl::Mutex view_mu_;
  std::map<std::string, GroupView> views_ ABSL_GUARDED_BY(view_mu_);
  std::map<std::string, uint64_t> tree_versions_ ABSL_GUARDED_BY(view_mu_);
  v1::ControllerStats planner_stats_ ABSL_GUARDED_BY(view_mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_CONTROLLER_CORE_H_
