// The Planner's read-only views: each node's table and cut-off sources, and
// what inspection shows of a group (trees, members). The model and planning
// are planner.cc.

#include "controller/planner.h"

namespace canopy::controller {

using tree::kNoVertex;
using tree::VertexId;

std::vector<v1::FlowEntry> Planner::TableOf(const std::string& node) const {
  std::vector<v1::FlowEntry> out;
  auto it = tables_.find(node);
  if (it == tables_.end()) return out;
  for (const auto& [key, entry] : it->second) out.push_back(entry);
  return out;
}

std::vector<v1::CutOffSource> Planner::CutOffOf(const std::string& node) const {
  std::vector<v1::CutOffSource> out;
  auto it = cut_off_.find(node);
  if (it == cut_off_.end()) return out;
  for (const auto& [key, reason] : it->second) {
    v1::CutOffSource& c = out.emplace_back();
    c.set_group(key.first);
    c.set_source(key.second);
    c.set_reason(reason);
  }
  return out;
}

size_t Planner::unreachable_count() const {
  size_t n = 0;
  for (const auto& [node, cut] : cut_off_) n += cut.size();
  return n;
}

std::vector<v1::SourceTree> Planner::Trees(const std::string& group) const {
  std::vector<v1::SourceTree> out;
  auto flows = flows_of_group_.find(group);
  if (flows == flows_of_group_.end()) return out;
  for (const SourceKey& key : flows->second) {
    const Flow& flow = flows_.at(key);
    v1::SourceTree t;
    t.set_source(key.second);
    t.set_root(flow.ingress);
    t.set_profile(flow.profile);
    auto fanout = [&](VertexId v) {
      (*t.mutable_max_fanout())[names_[v]] = graph_.Vertex(v).max_fanout;
    };
    if (flow.tree.root != kNoVertex) {
      fanout(flow.tree.root);
      if (NodeWants(flow.ingress, key)) t.add_receivers(flow.ingress);
    }
    int64_t total = 0;
    for (VertexId v = 0; v < static_cast<VertexId>(flow.tree.parent.size()); ++v) {
      const VertexId p = flow.tree.parent[v];
      if (p == kNoVertex) continue;
      v1::TreeEdge* e = t.add_edges();
      e->set_parent(names_[p]);
      e->set_child(names_[v]);
      const bool via_lan = v < static_cast<VertexId>(flow.via_lan.size()) && flow.via_lan[v];
      e->set_via_multicast(via_lan);
      e->set_cost(via_lan ? 0 : graph_.Cost(p, v).value_or(0));
      total += e->cost();
      fanout(v);
      if (NodeWants(names_[v], key)) t.add_receivers(names_[v]);
    }
    t.set_cost(total);
    if (flow.bulk) *t.mutable_bulk() = *flow.bulk;
    for (const auto& [node, reason] : flow.unreachable) {
      v1::UnreachableMember* m = t.add_unreachable();
      m->set_node_id(node);
      m->set_reason(reason);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::map<std::string, v1::SourceFilter> Planner::Members(const std::string& group) const {
  std::map<std::string, v1::SourceFilter> out;
  auto nodes = member_nodes_.find(group);
  if (nodes == member_nodes_.end()) return out;
  for (const std::string& node : nodes->second) {
    out[node] = nodes_.at(node).membership.at(group);
  }
  return out;
}

bool Planner::HasMembersOrSources(const std::string& group) const {
  return flows_of_group_.contains(group) || member_nodes_.contains(group) ||
         source_nodes_.contains(group);
}

}  // namespace canopy::controller
