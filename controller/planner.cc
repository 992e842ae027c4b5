#include "controller/planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/source_filter.h"
#include "spdlog/spdlog.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::controller {
namespace {

// Link cost between any two nodes until nodes report RTTs.
constexpr int64_t kUnitCost = 1;

tree::OverlayGraph FullMesh(const std::vector<NodeView>& nodes) {
  tree::OverlayGraph graph;
  for (const NodeView& n : nodes) {
    graph.AddVertex(tree::VertexInfo{n.id, static_cast<int32_t>(n.max_fanout), 0, ""});
  }
  const auto count = static_cast<tree::VertexId>(nodes.size());
  for (tree::VertexId u = 0; u < count; ++u) {
    for (tree::VertexId v = u + 1; v < count; ++v) {
      (void)graph.AddEdge(u, v, kUnitCost);
    }
  }
  return graph;
}

bool Allowed(const PlanInput& input, const SourceKey& key) {
  auto it = input.allow_lists.find(key.first);
  if (it == input.allow_lists.end() || it->second.empty()) return true;
  return std::find(it->second.begin(), it->second.end(), key.second) != it->second.end();
}

bool Wants(const NodeView& node, const SourceKey& key) {
  auto it = node.membership.find(key.first);
  return it != node.membership.end() && Admits(it->second, key.second);
}

v1::FlowEntry BaseEntry(const PlanInput& input, const SourceKey& key) {
  v1::FlowEntry e;
  e.set_group(key.first);
  e.set_source(key.second);
  e.set_group_handle(input.group_handles.at(key.first));
  e.set_source_id(input.source_ids.at(key));
  return e;
}

}  // namespace

Plan ComputePlan(const PlanInput& input) {
  Plan plan;
  // (group, source) → ingress vertex; extra ingresses are rejected.
  std::map<SourceKey, tree::VertexId> ingress;
  std::vector<NodeView> nodes = input.nodes;
  std::sort(nodes.begin(), nodes.end(),
            [](const NodeView& a, const NodeView& b) { return a.id < b.id; });
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const SourceKey& key : nodes[i].sources) {
      if (!Allowed(input, key)) {
        plan.rejections.push_back(Rejection{
            nodes[i].id, key,
            absl::StrCat("source '", key.second, "' may not publish to group '", key.first,
                         "' (allowed: ", absl::StrJoin(input.allow_lists.at(key.first), ", "),
                         ")")});
        continue;
      }
      auto [it, inserted] = ingress.emplace(key, static_cast<tree::VertexId>(i));
      if (!inserted) {
        plan.rejections.push_back(
            Rejection{nodes[i].id, key,
                      absl::StrCat("source '", key.second, "' already publishes to group '",
                                   key.first, "' through node ", nodes[it->second].id)});
      }
    }
  }
  if (ingress.empty()) return plan;

  const tree::OverlayGraph graph = FullMesh(nodes);
  for (const auto& [key, root] : ingress) {
    std::vector<tree::VertexId> members;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (static_cast<tree::VertexId>(i) != root && Wants(nodes[i], key)) {
        members.push_back(static_cast<tree::VertexId>(i));
      }
    }
    v1::SourceTree& shown = plan.trees[key];
    shown.set_source(key.second);
    shown.set_root(nodes[root].id);

    absl::StatusOr<tree::RootedTree> t = tree::ShortestPathTree(graph, root, members);
    if (!t.ok()) {
      spdlog::error("no tree for source {} of group {}: {}", key.second, key.first,
                    std::string(t.status().message()));
      // The ingress still gets its entry so its publisher is not held up.
      t = tree::RootedTree{root, std::vector<tree::VertexId>(nodes.size(), tree::kNoVertex), 0};
    }
    shown.set_cost(t->cost);
    std::map<tree::VertexId, v1::FlowEntry> entries;
    entries.emplace(root, BaseEntry(input, key));
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto v = static_cast<tree::VertexId>(i);
      const tree::VertexId parent = t->parent[v];
      if (parent == tree::kNoVertex) continue;
      auto [child_entry, unused] = entries.emplace(v, BaseEntry(input, key));
      child_entry->second.set_parent(nodes[parent].id);
      auto [parent_entry, unused2] = entries.emplace(parent, BaseEntry(input, key));
      v1::Hop* hop = parent_entry->second.add_children();
      hop->set_node_id(nodes[v].id);
      hop->set_data_address(nodes[v].data_address);
      v1::TreeEdge* edge = shown.add_edges();
      edge->set_parent(nodes[parent].id);
      edge->set_child(nodes[v].id);
      edge->set_cost(kUnitCost);
    }
    for (auto& [v, entry] : entries) {
      const bool local = Wants(nodes[v], key);
      entry.set_local_delivery(local);
      if (local) shown.add_receivers(nodes[v].id);
      plan.tables[nodes[v].id].push_back(std::move(entry));
    }
  }
  return plan;
}

}  // namespace canopy::controller
