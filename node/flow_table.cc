#include "node/flow_table.h"

namespace canopy::node {

void FlowTable::Add(std::shared_ptr<const FlowRoute> route) {
  const uint64_t key = IdKey(route->group_handle(), route->source_id());
  auto [it, inserted] = by_ids_.try_emplace(key, route);
  if (!inserted) {
    if (route->retired) return;
    it->second = route;
  }
  if (!route->retired) by_names_[{route->group(), route->source()}] = route.get();
}

const FlowRoute* FlowTable::Find(uint32_t group_handle, uint32_t source_id) const {
  auto it = by_ids_.find(IdKey(group_handle, source_id));
  return it == by_ids_.end() ? nullptr : it->second.get();
}

const FlowRoute* FlowTable::Find(const std::string& group, const std::string& source) const {
  auto it = by_names_.find(std::make_pair(group, source));
  return it == by_names_.end() ? nullptr : it->second;
}

std::vector<const FlowRoute*> FlowTable::routes() const {
  std::vector<const FlowRoute*> out;
  out.reserve(by_ids_.size());
  for (const auto& [key, route] : by_ids_) out.push_back(route.get());
  return out;
}

}  // namespace canopy::node
