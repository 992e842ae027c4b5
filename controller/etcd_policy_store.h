#ifndef CANOPY_CONTROLLER_ETCD_POLICY_STORE_H_
#define CANOPY_CONTROLLER_ETCD_POLICY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "controller/etcd_client.h"
#include "controller/policy_store.h"
#include "grpcpp/client_context.h"

namespace canopy::controller {

// The controllers' durable state in etcd, under one key prefix
// (canopy-controller --etcd-prefix, default "/canopy/"):
//   PREFIX policy/GROUP          GroupPolicy as JSON
//   PREFIX group/GROUP           the group's handle (decimal)
//   PREFIX source/GROUP/SOURCE   the source's id in its group
//   PREFIX counter/group         the last handle given out
//   PREFIX counter/source/GROUP  the last source id given out in GROUP
//   PREFIX links                 static links, one "NODE_A NODE_B COST_US" a line
//   PREFIX multicast             the multicast mapping, "A.B.C.D/N PORT"
//
// Reads are served from a cache that Load() fills from a consistent
// snapshot and a Watch keeps current, so planning goes on from the last
// state while etcd is unreachable. Writes go to etcd first, as transactions
// that hold only while the writer still leads (Fence), and then to the
// cache. While etcd is known to be unreachable, writes and new ids fail at
// once with UNAVAILABLE naming etcd; one goes through to etcd a second
// after the last failure, so the store notices by itself when etcd is back
// (the election's lease renewals tell it too, ReportReachability).
//
// Thread-safe.
class EtcdPolicyStore final : public PolicyStore {
 public:
  EtcdPolicyStore(EtcdClient& client, std::string prefix);
  EtcdPolicyStore(const EtcdPolicyStore&) = delete;
  EtcdPolicyStore& operator=(const EtcdPolicyStore&) = delete;
  ~EtcdPolicyStore() override;

  // Replaces the cache with everything under the prefix now and follows
  // later changes (Watch) from there. `on_external_change` (may be empty)
  // is called on the watch thread after a change this store did not write
  // (an operator's etcdctl, another replica) reached the cache; it must
  // not call back into the store's Load or StopWatching.
  absl::Status Load(std::function<void()> on_external_change);
  // Stops following changes (this replica no longer leads).
  void StopWatching();

  // Writes from now on hold only while `leader_key` exists with creation
  // revision `revision` (the election's leader key): a deposed leader's
  // writes fail (FailedPrecondition). An empty key lifts the fence.
  void Fence(std::string leader_key, int64_t revision);

  // What the caller learned of etcd's reachability (the election's lease
  // keep-alives): OK or the error.
  void ReportReachability(const absl::Status& status);

  absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group) override;
  absl::Status SetPolicy(const v1::GroupPolicy& policy) override;
  absl::StatusOr<std::vector<v1::GroupPolicy>> AllPolicies() override;
  absl::StatusOr<uint32_t> GroupHandle(const std::string& group) override;
  absl::StatusOr<uint32_t> SourceId(const std::string& group, const std::string& source) override;
  absl::StatusOr<std::vector<StaticLink>> StaticLinks() override;
  absl::Status SetStaticLinks(const std::vector<StaticLink>& links) override;
  absl::StatusOr<std::optional<MulticastMapping>> GetMulticastMapping() override;
  absl::Status SetMulticastMapping(const MulticastMapping& mapping) override;
  StoreHealth Health() const override;

 private:
  struct Cache {
    std::map<std::string, v1::GroupPolicy> policies;
    std::map<std::string, uint32_t> handles;
    std::map<std::pair<std::string, std::string>, uint32_t> source_ids;
    std::vector<StaticLink> links;
    std::optional<MulticastMapping> mapping;
  };

  // Applies one key's value (or its deletion: nullopt) to `cache`; returns
  // true if the cache changed.
  bool ApplyKey(Cache& cache, const std::string& key, const std::optional<std::string>& value);
  // Puts `puts` (key → value) in one transaction that holds only if every
  // key of `absent` does not exist and the fence holds. Returns whether
  // the compares held.
  absl::StatusOr<bool> Write(const std::vector<std::pair<std::string, std::string>>& puts,
                             const std::vector<std::string>& absent,
                             const std::vector<std::pair<std::string, int64_t>>& mod_revisions);
  // Gives out the next number of counter `counter` as the value of `key`
  // (absent so far); returns the number now stored at `key`.
  absl::StatusOr<uint32_t> AssignId(const std::string& key, const std::string& counter);
  // OK, or Unavailable at once while etcd is known to be unreachable.
  absl::Status CheckReachable(const char* what) const;
  void NoteResult(const absl::Status& status);
  // Follows changes from `from_revision` until `stop`, watching again after
  // the stream broke.
  void RunWatch(absl::Notification& stop, int64_t from_revision,
                const std::function<void()>& on_external_change);

  EtcdClient& client_;
  const std::string prefix_;

  // Serialises writes (held across the etcd call; reads never take it).
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  Cache cache_ ABSL_GUARDED_BY(mu_);
  std::string fence_key_ ABSL_GUARDED_BY(mu_);
  int64_t fence_revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  std::string error_ ABSL_GUARDED_BY(mu_);
  // When a call last found etcd unreachable.
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // The watch: its thread, and the context that cancels its stream.
  absl::Mutex watch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread watch_thread_ ABSL_GUARDED_BY(watch_mu_);
  std::shared_ptr<absl::Notification> watch_stop_ ABSL_GUARDED_BY(watch_mu_);
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_ETCD_POLICY_STORE_H_
