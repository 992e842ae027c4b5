#ifndef CANOPY_NODE_LOCAL_CLIENTS_H_
#define CANOPY_NODE_LOCAL_CLIENTS_H_

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
#include "canopy/v1/controller.pb.h"
#include "node/subscriber_queue.h"

namespace canopy::node {

// This node's local clients: the subscriptions (with their IGMPv3 filters)
// and the sources publishing through it. Produces the soft-state reports the
// controller session sends, and hands out joined events when the controller
// acknowledges a report.
//
// Thread-safe. The change callback runs on the thread that made the change,
// outside the lock.
class LocalClients {
 public:
  explicit LocalClients(std::function<void()> on_change);
  LocalClients(const LocalClients&) = delete;
  LocalClients& operator=(const LocalClients&) = delete;

  // Adds / removes a subscription.
  void AddSubscriber(std::shared_ptr<SubscriberQueue> subscriber);
  void RemoveSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber);

  // Subscribers of `group`, for delivery.
  std::vector<std::shared_ptr<SubscriberQueue>> Subscribers(const std::string& group) const;

  // Counts a publisher of (group, source); the source is reported while the
  // count is above zero.
  void AddSource(const std::string& group, const std::string& source);
  void RemoveSource(const std::string& group, const std::string& source);

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
  std::map<std::pair<std::string, std::string>, int> sources_ ABSL_GUARDED_BY(mu_);
  uint64_t report_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_LOCAL_CLIENTS_H_
