#include "controller/topology.h"

namespace canopy::controller {

void Topology::AddNode(const NodeSpec& spec) { nodes_[spec.id] = spec; }

void Topology::RemoveNode(const std::string& id) {
  nodes_.erase(id);
  for (auto it = rtts_.begin(); it != rtts_.end();) {
    it = (it->first.first == id || it->first.second == id) ? rtts_.erase(it) : std::next(it);
  }
}

void Topology::ReportRtts(const std::string& from,
                          const std::vector<std::pair<std::string, uint64_t>>& rtts) {
  if (!nodes_.contains(from)) return;
  for (const auto& [peer, rtt] : rtts) {
    if (!nodes_.contains(peer) || peer == from) continue;  // only attached peers
    if (rtt == 0) {
      rtts_.erase({from, peer});
    } else {
      rtts_[{from, peer}] = rtt;
    }
  }
}

void Topology::SetStaticLinks(std::vector<StaticLink> links) { static_links_ = std::move(links); }

int64_t Topology::LinkCost(const std::string& a, const std::string& b) const {
  auto ab = rtts_.find({a, b});
  auto ba = rtts_.find({b, a});
  if (ab != rtts_.end() && ba != rtts_.end()) {
    return static_cast<int64_t>((ab->second + ba->second) / 2);
  }
  if (ab != rtts_.end()) return static_cast<int64_t>(ab->second);
  if (ba != rtts_.end()) return static_cast<int64_t>(ba->second);
  return default_cost_us_;
}

bool Topology::SetMulticastDomains(std::map<std::string, std::string> domain_of) {
  if (domain_of == domain_of_) return false;
  domain_of_ = std::move(domain_of);
  return true;
}

std::string Topology::DomainOf(const std::string& id) const {
  auto it = domain_of_.find(id);
  return it == domain_of_.end() ? "" : it->second;
}

tree::OverlayGraph Topology::BuildGraph(std::vector<std::string>& names) const {
  tree::OverlayGraph graph;
  // Keep the callers' vertex numbering if it names exactly these nodes (only
  // costs changed), so trees computed on the old graph stay meaningful;
  // otherwise number nodes in id order.
  bool same_nodes = names.size() == nodes_.size();
  for (size_t i = 0; same_nodes && i < names.size(); ++i) same_nodes = nodes_.contains(names[i]);
  if (!same_nodes) {
    names.clear();
    for (const auto& [id, spec] : nodes_) names.push_back(id);
  }
  std::map<std::string, tree::VertexId> index;
  for (const std::string& id : names) {
    const NodeSpec& spec = nodes_.at(id);
    index[id] =
        graph.AddVertex(tree::VertexInfo{id, static_cast<int32_t>(spec.max_fanout),
                                         static_cast<int64_t>(spec.upload_bps), DomainOf(id)});
  }
  if (!static_links_.empty()) {
    for (const StaticLink& link : static_links_) {
      auto a = index.find(link.a);
      auto b = index.find(link.b);
      if (a == index.end() || b == index.end()) continue;  // node not attached
      (void)graph.AddEdge(a->second, b->second, link.cost_us);
    }
    return graph;
  }
  // Full mesh: gather measured RTTs into a dense matrix first (one pass over
  // the reports instead of two map lookups per pair).
  const auto n = static_cast<tree::VertexId>(names.size());
  std::vector<uint64_t> rtt(static_cast<size_t>(n) * n, 0);
  for (const auto& [pair, value] : rtts_) {
    auto a = index.find(pair.first);
    auto b = index.find(pair.second);
    if (a != index.end() && b != index.end()) {
      rtt[static_cast<size_t>(a->second) * n + b->second] = value;
    }
  }
  for (tree::VertexId u = 0; u < n; ++u) {
    for (tree::VertexId v = u + 1; v < n; ++v) {
      const uint64_t uv = rtt[static_cast<size_t>(u) * n + v];
      const uint64_t vu = rtt[static_cast<size_t>(v) * n + u];
      const int64_t cost = uv && vu ? static_cast<int64_t>((uv + vu) / 2)
                           : uv     ? static_cast<int64_t>(uv)
                           : vu     ? static_cast<int64_t>(vu)
                                    : default_cost_us_;
      (void)graph.AddEdge(u, v, cost);
    }
  }
  return graph;
}

tree::VertexId Topology::ExtendGraph(const std::string& id, tree::OverlayGraph& graph,
                                     std::vector<std::string>& names) const {
  const NodeSpec& spec = nodes_.at(id);
  const tree::VertexId v =
      graph.AddVertex(tree::VertexInfo{id, static_cast<int32_t>(spec.max_fanout),
                                       static_cast<int64_t>(spec.upload_bps), DomainOf(id)});
  if (static_links_.empty()) {
    for (tree::VertexId u = 0; u < v; ++u) (void)graph.AddEdge(u, v, LinkCost(names[u], id));
  } else {
    for (tree::VertexId u = 0; u < v; ++u) {
      for (const StaticLink& link : static_links_) {
        if ((link.a == id && link.b == names[u]) || (link.b == id && link.a == names[u])) {
          (void)graph.AddEdge(u, v, link.cost_us);
        }
      }
    }
  }
  names.push_back(id);
  return v;
}

}  // namespace canopy::controller
