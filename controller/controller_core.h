#ifndef CANOPY_CONTROLLER_CONTROLLER_CORE_H_
#define CANOPY_CONTROLLER_CONTROLLER_CORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "controller/planner.h"
#include "controller/policy_store.h"

namespace canopy::controller {

// The way back to one attached node.
class NodeChannel {
 public:
  virtual ~NodeChannel() = default;
  // Sends one instruction; false if the stream is gone. Thread-safe.
  virtual bool Send(const v1::NodeInstruction& instruction) = 0;
  // Ends the node's stream (replaced by a newer session, or declared dead).
  virtual void Close() = 0;
};

struct ControllerOptions {
  // A node silent for this long is declared dead.
  absl::Duration liveness_timeout = absl::Milliseconds(1500);
};

// The control plane's state: node registry with liveness, soft-state
// membership and sources, durable policy; every change is re-planned and
// the changed forwarding tables are pushed (children before the source's
// ingress node, so data never outruns a table).
//
// Thread-safe.
class ControllerCore {
 public:
  ControllerCore(ControllerOptions options, PolicyStore& store);
  ControllerCore(const ControllerCore&) = delete;
  ControllerCore& operator=(const ControllerCore&) = delete;

  // Registers a node's new session. A live session with the same node id is
  // closed and replaced. Returns the session id.
  // REQUIRES: hello was validated; `channel` outlives Detach(session).
  uint64_t Attach(const v1::NodeHello& hello, NodeChannel* channel, absl::Time now);

  // Removes the session (if still registered) and re-plans.
  void Detach(uint64_t session);

  // Soft-state reports and heartbeats of a session. Unknown (expired or
  // replaced) sessions are ignored.
  void OnMembership(uint64_t session, const v1::MembershipReport& report, absl::Time now);
  void OnSources(uint64_t session, const v1::SourceReport& report, absl::Time now);
  void OnHeartbeat(uint64_t session, const v1::Heartbeat& heartbeat, absl::Time now);

  // Closes sessions silent for longer than the liveness timeout.
  void ExpireSilentNodes(absl::Time now);

  // Policy: stored durably, pushed to every node, re-planned.
  absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group);
  absl::Status SetPolicy(const v1::GroupPolicy& policy);

  // Inspection.
  v1::ListNodesResponse ListNodes() const;
  absl::StatusOr<v1::ListGroupsResponse> ListGroups() const;
  absl::StatusOr<v1::GetTreeResponse> GetTree(const v1::GetTreeRequest& request) const;

 private:
  struct Session {
    uint64_t id = 0;
    v1::NodeHello hello;
    NodeChannel* channel = nullptr;
    absl::Time last_seen;
    std::map<std::string, v1::SourceFilter> membership;
    std::set<SourceKey> sources;
    // Last table sent (without version) and versions.
    std::vector<v1::FlowEntry> table;
    uint64_t version_sent = 0;
    uint64_t version_applied = 0;
    // Rejections already told to the node.
    std::map<SourceKey, std::string> rejected;
  };

  Session* FindSession(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-plans and pushes changed tables and new rejections.
  void Replan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushPolicies(Session* only) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<PlanInput> BuildInput() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ControllerOptions options_;
  PolicyStore& store_;

  mutable absl::Mutex mu_;
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  // node id → session.
  std::map<std::string, Session> nodes_ ABSL_GUARDED_BY(mu_);
  Plan plan_ ABSL_GUARDED_BY(mu_);
  uint64_t next_version_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_CONTROLLER_CORE_H_
