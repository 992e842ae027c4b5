#ifndef CANOPY_NODE_FLOW_STATES_H_
#define CANOPY_NODE_FLOW_STATES_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "node/flow_state.h"

namespace canopy::node {

// The state of every flow this node carries, by (group, source), kept
// across forwarding-table versions while the flow is live (in the table,
// retired but in flight, published here, or wanted but cut off).
//
// Thread-safe.
class FlowStates {
 public:
  using Key = std::pair<std::string, std::string>;

  // The flow's state, created if new.
  std::shared_ptr<FlowState> Get(const std::string& group, const std::string& source);
  // Forgets every flow not in `live` and returns their states (a flow that
  // comes back starts afresh: its ingress may have restarted its sequence).
  std::vector<std::shared_ptr<FlowState>> Retain(const absl::flat_hash_set<Key>& live);
  // Every flow and its state.
  std::vector<std::pair<Key, std::shared_ptr<FlowState>>> All() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<FlowState>> flows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FLOW_STATES_H_
