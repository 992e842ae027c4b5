#include "controller/table_compiler.h"

namespace canopy::controller {

std::map<std::string, v1::FlowEntry> CompileFlowEntries(const SourceKey& key, const Flow& flow,
                                                        const TableContext& context) {
  std::map<std::string, v1::FlowEntry> entries;
  auto entry_of = [&](tree::VertexId v) -> v1::FlowEntry& {
    auto [it, inserted] = entries.try_emplace(context.names[v]);
    if (inserted) {
      v1::FlowEntry& e = it->second;
      e.set_group(key.first);
      e.set_source(key.second);
      e.set_group_handle(flow.group_handle);
      e.set_source_id(flow.source_id);
      e.set_local_delivery(context.delivers_locally(context.names[v]));
      if (context.policy != nullptr) {
        e.set_slow_receiver(context.policy->slow_receiver());
        e.set_ttl(context.policy->ttl());
      }
    }
    return it->second;
  };
  if (flow.tree.root != tree::kNoVertex) {
    v1::FlowEntry& root = entry_of(flow.tree.root);
    for (const auto& [node, reason] : flow.unreachable) {
      v1::UnreachableMember* m = root.add_unreachable();
      m->set_node_id(node);
      m->set_reason(reason);
    }
  }
  for (tree::VertexId v = 0; v < static_cast<tree::VertexId>(flow.tree.parent.size()); ++v) {
    const tree::VertexId p = flow.tree.parent[v];
    if (p == tree::kNoVertex) continue;
    const std::string& parent = context.names[p];
    const std::string& child = context.names[v];
    entry_of(v).set_parent(parent);
    entry_of(v).set_parent_token(context.nodes.at(parent).link_token);
    v1::Hop* hop = entry_of(p).add_children();
    hop->set_node_id(child);
    hop->set_data_address(context.nodes.at(child).data_address);
    if (v < static_cast<tree::VertexId>(flow.via_lan.size()) && flow.via_lan[v]) {
      // One multicast copy from the parent (the LAN's forwarder) reaches v;
      // the link carries only repairs.
      hop->set_via_multicast(true);
      entry_of(p).set_multicast_emit(true);
      entry_of(p).set_multicast_group(context.multicast_address);
      entry_of(v).set_multicast_group(context.multicast_address);
    }
  }
  return entries;
}

}  // namespace canopy::controller
