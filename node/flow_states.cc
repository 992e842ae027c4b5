#include "node/flow_states.h"

namespace canopy::node {

std::shared_ptr<FlowState> FlowStates::Get(const std::string& group, const std::string& source) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<FlowState>& flow = flows_[{group, source}];
  if (flow == nullptr) flow = std::make_shared<FlowState>();
  return flow;
}

std::vector<std::shared_ptr<FlowState>> FlowStates::Retain(const absl::flat_hash_set<Key>& live) {
  std::vector<std::shared_ptr<FlowState>> ended;
  absl::MutexLock lock(&mu_);
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (live.contains(it->first)) {
      ++it;
    } else {
      ended.push_back(std::move(it->second));
      flows_.erase(it++);
    }
  }
  return ended;
}

std::vector<std::pair<FlowStates::Key, std::shared_ptr<FlowState>>> FlowStates::All() const {
  absl::MutexLock lock(&mu_);
  return {flows_.begin(), flows_.end()};
}

}  // namespace canopy::node
