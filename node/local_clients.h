#ifndef CANOPY_NODE_LOCAL_CLIENTS_H_
#define CANOPY_NODE_LOCAL_CLIENTS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "node/subscriber_queue.h"

namespace canopy::node {

// The local subscribers of one group, as the data plane reads them: an
// immutable list swapped whole on every join and leave, so delivering a
// frame takes no lock.
//
// Thread-safe.
class GroupSubscribers {
 public:
  using List = std::vector<std::shared_ptr<SubscriberQueue>>;
  // The current list (never null).
  std::shared_ptr<const List> Load() const { return list_.load(std::memory_order_acquire); }
  void Store(std::shared_ptr<const List> list) {
    list_.store(std::move(list), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const List>> list_{std::make_shared<const List>()};
};

// This node's local clients: the subscriptions (with their IGMPv3 filters)
// and the sources publishing through it. Produces the soft-state reports the
// controller session sends, and hands out joined events when the controller
// acknowledges a report.
//
// Thread-safe. The change callback runs on the thread that made the change,
// outside the lock.
class LocalClients {
 public:
  // A source whose last publisher left stays reported for `source_linger`
  // (measured with `now`), so the tail of its stream still travels its
  // tree and receivers that are behind can still have it repaired; a
  // publisher of it that comes back within the linger continues the flow.
  explicit LocalClients(std::function<void()> on_change,
                        absl::Duration source_linger = absl::ZeroDuration(),
                        std::function<absl::Time()> now = absl::Now);
  LocalClients(const LocalClients&) = delete;
  LocalClients& operator=(const LocalClients&) = delete;

  // Adds / removes a subscription.
  void AddSubscriber(std::shared_ptr<SubscriberQueue> subscriber);
  void RemoveSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber);

  // Subscribers of `group` now (a copy).
  std::vector<std::shared_ptr<SubscriberQueue>> Subscribers(const std::string& group) const;
  // The live subscriber list of `group`, for the data plane: it follows
  // every later join and leave. Created on first use; PruneGroups forgets
  // empty ones nobody else holds.
  std::shared_ptr<GroupSubscribers> GroupOf(const std::string& group);
  void PruneGroups();

  // The flows this node wants that the controller cannot bring here now,
  // (group, source) → why (ForwardingTable.cut_off). Every subscriber, and
  // every later one, is told about the sources its filter admits
  // (SubscriberQueue::SetCutOff).
  void SetCutOffs(std::map<std::pair<std::string, std::string>, std::string> cut_off);

  // Counts a publisher of (group, source); the source is reported while the
  // count is above zero, and for the linger after it dropped to zero.
  void AddSource(const std::string& group, const std::string& source);
  void RemoveSource(const std::string& group, const std::string& source);
  // Stops reporting sources whose linger ended; runs the change callback
  // if there were any. Call it periodically (the heartbeat does).
  void ExpireLingeringSources();

  // A new membership snapshot with the next report sequence: one entry per
  // group with subscribers, carrying the merged filter (RFC 3376 §3.2).
  // Subscribers not yet reported are stamped with this sequence.
  v1::MembershipReport NextMembershipReport();

  // The set of local sources.
  v1::SourceReport SourceSnapshot() const;

  // The controller planned every report up to `report_seq`: queues the joined
  // event for the subscribers those reports carried.
  void Acknowledge(uint64_t report_seq);

  // Local subscriptions and publishers (each AddSource counts once) per
  // group that has either, for metrics.
  struct GroupCounts {
    int subscribers = 0;
    int publishers = 0;
  };
  std::map<std::string, GroupCounts> CountsByGroup() const;

 private:
  const std::function<void()> on_change_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<SubscriberQueue>>> by_group_
      ABSL_GUARDED_BY(mu_);
  const absl::Duration source_linger_;
  const std::function<absl::Time()> now_;
  // Publishers per source; 0 while a source lingers.
  std::map<std::pair<std::string, std::string>, int> sources_ ABSL_GUARDED_BY(mu_);
  // Sources without publishers → when they stop being reported.
  std::map<std::pair<std::string, std::string>, absl::Time> lingering_ ABSL_GUARDED_BY(mu_);
  uint64_t report_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<std::string, std::string>, std::string> cut_off_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<GroupSubscribers>> lists_ ABSL_GUARDED_BY(mu_);

  // Publishes by_group_[group] to the group's GroupSubscribers.
  void PublishList(const std::string& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The cut-offs `subscriber`'s filter admits (source → why).
  std::map<std::string, std::string> CutOffFor(const SubscriberQueue& subscriber) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_LOCAL_CLIENTS_H_
