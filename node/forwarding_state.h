#ifndef CANOPY_NODE_FORWARDING_STATE_H_
#define CANOPY_NODE_FORWARDING_STATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::node {

// Names and numeric ids of one (group, source) flow, shared by every frame
// and delivery of the flow.
struct FlowNames {
  std::string group;
  std::string source;
};

// What the controller told this node: the forwarding table (per flow: parent,
// children, local delivery), group policies, and rejected sources. The data
// plane reads it on every frame; the controller session replaces it.
//
// Thread-safe.
class ForwardingState {
 public:
  // Result of waiting for a flow's entry at the ingress.
  enum class FlowReadiness { kReady, kRejected, kTimedOut };

  // Frames of a flow that left the table are still delivered and forwarded
  // to its last children for this long: they were in flight when it ended.
  static constexpr absl::Duration kRetiredFlowGrace = absl::Seconds(10);

  ForwardingState() = default;
  ForwardingState(const ForwardingState&) = delete;
  ForwardingState& operator=(const ForwardingState&) = delete;

  // Replaces the table. Ignores a table older than the current one. Entries
  // that leave the table are retired (still found by FindByIds) until
  // `now` + kRetiredFlowGrace. Runs the flow watchers registered with
  // WhenFlowKnown whose flows now exist.
  void ApplyTable(const v1::ForwardingTable& table, absl::Time now);

  // A new controller session starts: its first table replaces the current
  // one whatever its version (versions are per session). The current table
  // stays in force until then.
  void ResetVersion();

  // Replaces every group policy.
  void ApplyPolicies(const v1::PolicyUpdate& update);

  // Records that the controller refused `source` on `group`.
  void RecordRejection(const v1::SourceRejected& rejected);

  // Forgets a rejection (the publisher is gone, or the policy may change).
  void ClearRejection(const std::string& group, const std::string& source);

  // The entry of a flow by its names / by the numeric ids in its frames.
  std::optional<v1::FlowEntry> Find(const std::string& group, const std::string& source) const;
  // FindByIds also finds retired entries.
  std::optional<v1::FlowEntry> FindByIds(uint32_t group_handle, uint32_t source_id) const;

  // Every entry of the current table, and the retired ones.
  std::vector<v1::FlowEntry> Entries() const;
  std::vector<v1::FlowEntry> RetiredEntries() const;

  // OK if the group's allow-list admits `source` as far as this node knows;
  // PermissionDenied with a message otherwise. Fails closed: Unavailable
  // until a controller sent the policies (a node that has them keeps
  // enforcing the last it got while the controller is away).
  absl::Status CheckAllowed(const std::string& group, const std::string& source) const;

  // Blocks until the table has an entry for (group, source), the controller
  // rejected the source, or `timeout` passes.
  FlowReadiness AwaitFlow(const std::string& group, const std::string& source,
                          absl::Duration timeout) const;

  // Calls `known(true)` once an entry with these ids exists (at once if it
  // does now, retired or not), or `known(false)` from Expire() after
  // `deadline`.
  // `known` runs on the thread that applies the table or expires watchers.
  void WhenFlowKnown(uint32_t group_handle, uint32_t source_id, absl::Time deadline,
                     std::function<void(bool)> known);

  // Fails the watchers whose deadline is before `now` and forgets retired
  // entries whose grace has passed.
  void Expire(absl::Time now);

  // Version of the applied table; 0 before the first.
  uint64_t version() const;

  // The flows this node wants but cannot get now ((group, source) → why),
  // from the last table (ForwardingTable.cut_off).
  std::map<std::pair<std::string, std::string>, std::string> CutOffs() const;

  // True once a controller sent the group policies (a node refuses
  // publishers before that: it fails closed).
  bool has_policies() const;

  // The reason the controller gave for rejecting (group, source), if it did.
  std::optional<std::string> Rejection(const std::string& group, const std::string& source) const;

 private:
  struct Watcher {
    uint32_t group_handle;
    uint32_t source_id;
    absl::Time deadline;
    std::function<void(bool)> known;
  };

  static uint64_t IdKey(uint32_t group_handle, uint32_t source_id) {
    return (static_cast<uint64_t>(group_handle) << 32) | source_id;
  }

  mutable absl::Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  // (group, source) → entry, and frame ids → the same key.
  absl::flat_hash_map<std::pair<std::string, std::string>, v1::FlowEntry> flows_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::pair<std::string, std::string>> by_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<std::string>> allow_lists_ ABSL_GUARDED_BY(mu_);
  bool has_policies_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::pair<std::string, std::string>, std::string> cut_off_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, std::string>, std::string> rejected_
      ABSL_GUARDED_BY(mu_);
  std::vector<Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  // Frame ids → (entry, retired until).
  absl::flat_hash_map<uint64_t, std::pair<v1::FlowEntry, absl::Time>> retired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FORWARDING_STATE_H_
