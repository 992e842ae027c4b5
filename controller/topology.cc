#include "controller/topology.h"

#include <algorithm>
#include <cmath>

#include "tree/components.h"

namespace canopy::controller {

Topology::Topology(TopologyOptions options) : options_(options), probes_(options.probes) {}

std::vector<std::string> Topology::AddNode(const NodeSpec& spec) {
  std::vector<std::string> changed;
  if (nodes_.contains(spec.id)) changed = RemoveNode(spec.id);
  nodes_[spec.id] = spec;
  std::vector<std::string> more = probes_.AddNode(spec.id);
  for (const std::string& node : more) ForgetUnprobed(node);
  changed.insert(changed.end(), more.begin(), more.end());
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  std::erase_if(changed, [&](const std::string& id) { return !nodes_.contains(id); });
  return changed;
}

std::vector<std::string> Topology::RemoveNode(const std::string& id) {
  if (nodes_.erase(id) == 0) return {};
  const bool was_full_mesh = probes_.full_mesh();
  rtts_.erase(id);
  std::vector<std::string> changed = probes_.RemoveNode(id);
  if (was_full_mesh) {
    for (auto& [from, to] : rtts_) to.erase(id);
  }
  // Outside a full mesh only the nodes that probed it measured it.
  for (const std::string& node : changed) ForgetUnprobed(node);
  return changed;
}

void Topology::ForgetUnprobed(const std::string& from) {
  auto measured = rtts_.find(from);
  if (measured == rtts_.end()) return;
  if (probes_.full_mesh()) {
    absl::erase_if(measured->second, [&](const auto& entry) { return !nodes_.contains(entry.first); });
  } else {
    const std::vector<std::string> peers = probes_.PeersOf(from);
    absl::erase_if(measured->second, [&](const auto& entry) {
      return !std::binary_search(peers.begin(), peers.end(), entry.first);
    });
  }
  if (measured->second.empty()) rtts_.erase(measured);
}

uint64_t Topology::Measured(const std::string& from, const std::string& to) const {
  auto measured = rtts_.find(from);
  if (measured == rtts_.end()) return 0;
  auto it = measured->second.find(to);
  return it == measured->second.end() ? 0 : it->second;
}

void Topology::ReportRtts(const std::string& from,
                          const std::vector<std::pair<std::string, uint64_t>>& rtts) {
  if (!nodes_.contains(from)) return;
  for (const auto& [peer, rtt] : rtts) {
    if (!probes_.Probes(from, peer)) continue;  // only peers it was asked to probe
    if (rtt == 0) {
      if (auto measured = rtts_.find(from); measured != rtts_.end()) measured->second.erase(peer);
    } else {
      rtts_[from][peer] = rtt;
    }
  }
}

bool Topology::ReportCoordinate(const std::string& from, const NetworkCoordinate& coordinate) {
  if (!nodes_.contains(from)) return false;
  if (!probes_.SetCoordinate(from, coordinate)) return false;
  ForgetUnprobed(from);
  return true;
}

void Topology::SetStaticLinks(std::vector<StaticLink> links) { static_links_ = std::move(links); }

int64_t Topology::EstimatedCost(const std::string& a, const std::string& b) const {
  const NetworkCoordinate* ca = probes_.CoordinateOf(a);
  const NetworkCoordinate* cb = probes_.CoordinateOf(b);
  if (ca == nullptr || cb == nullptr || ca->error > options_.max_estimate_error ||
      cb->error > options_.max_estimate_error) {
    return -1;
  }
  const double rtt = std::round(EstimatedRttUs(*ca, *cb));
  return static_cast<int64_t>(std::clamp(rtt, 1.0, static_cast<double>(kMaxStaticLinkCostUs)));
}

int64_t Topology::LinkCost(const std::string& a, const std::string& b) const {
  const uint64_t ab = Measured(a, b);
  const uint64_t ba = Measured(b, a);
  if (ab != 0 && ba != 0) return static_cast<int64_t>((ab + ba) / 2);
  if (ab != 0) return static_cast<int64_t>(ab);
  if (ba != 0) return static_cast<int64_t>(ba);
  const int64_t estimate = EstimatedCost(a, b);
  return estimate >= 0 ? estimate : options_.default_cost_us;
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

tree::OverlayGraph Topology::BuildGraph(std::vector<std::string>& names) {
  tree::OverlayGraph graph;
  links_ = links_estimated_ = links_joining_ = 0;
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
    links_ = static_cast<int64_t>(graph.Edges().size());
    return graph;
  }
  const auto n = static_cast<tree::VertexId>(names.size());
  if (!probes_.full_mesh()) {
    probes_.ForEachLink([&](const std::string& a, const std::string& b) {
      const bool measured = Measured(a, b) != 0 || Measured(b, a) != 0;
      (void)graph.AddEdge(index.at(a), index.at(b), LinkCost(a, b));
      ++links_;
      if (!measured) ++links_estimated_;
    });
    JoinPieces(graph, names);
    return graph;
  }
  // Full mesh: gather measured RTTs into a dense matrix first (one pass over
  // the reports instead of two lookups per pair).
  std::vector<uint64_t> rtt(static_cast<size_t>(n) * n, 0);
  for (const auto& [from, measured] : rtts_) {
    auto a = index.find(from);
    if (a == index.end()) continue;
    for (const auto& [to, value] : measured) {
      if (auto b = index.find(to); b != index.end()) {
        rtt[static_cast<size_t>(a->second) * n + b->second] = value;
      }
    }
  }
  for (tree::VertexId u = 0; u < n; ++u) {
    for (tree::VertexId v = u + 1; v < n; ++v) {
      const uint64_t uv = rtt[static_cast<size_t>(u) * n + v];
      const uint64_t vu = rtt[static_cast<size_t>(v) * n + u];
      int64_t cost = uv && vu ? static_cast<int64_t>((uv + vu) / 2)
                     : uv     ? static_cast<int64_t>(uv)
                     : vu     ? static_cast<int64_t>(vu)
                              : -1;
      if (cost < 0) {
        ++links_estimated_;
        cost = EstimatedCost(names[u], names[v]);
        if (cost < 0) cost = options_.default_cost_us;
      }
      (void)graph.AddEdge(u, v, cost);
      ++links_;
    }
  }
  return graph;
}

void Topology::JoinPieces(tree::OverlayGraph& graph, const std::vector<std::string>& names) {
  const tree::Components pieces = tree::ConnectedComponents(graph);
  if (pieces.count <= 1) return;
  std::vector<std::vector<tree::VertexId>> members(static_cast<size_t>(pieces.count));
  for (tree::VertexId v = 0; v < graph.VertexCount(); ++v) {
    members[pieces.component[v]].push_back(v);
  }
  int32_t largest = 0;
  for (int32_t c = 1; c < pieces.count; ++c) {
    if (members[c].size() > members[largest].size()) largest = c;
  }
  std::map<std::string, tree::VertexId> vertex_of;
  for (tree::VertexId v = 0; v < static_cast<tree::VertexId>(names.size()); ++v) {
    vertex_of[names[v]] = v;
  }
  auto in_largest = [&](const std::string& id) {
    auto it = vertex_of.find(id);
    return it != vertex_of.end() && pieces.component[it->second] == largest;
  };
  for (int32_t c = 0; c < pieces.count; ++c) {
    if (c == largest) continue;
    // The estimated-nearest pair between this piece and the largest; the
    // lowest vertices of both at the default cost if nobody in the piece
    // has a coordinate.
    tree::VertexId best_u = members[c].front();
    tree::VertexId best_v = members[largest].front();
    int64_t best_cost = -1;
    for (tree::VertexId u : members[c]) {
      const NetworkCoordinate* coordinate = probes_.CoordinateOf(names[u]);
      if (coordinate == nullptr) continue;
      std::optional<std::string> v = probes_.Nearest(*coordinate, in_largest);
      if (!v) continue;
      const int64_t cost = EstimatedCost(names[u], *v);
      if (cost < 0) continue;
      if (best_cost < 0 || cost < best_cost) {
        best_u = u;
        best_v = vertex_of.at(*v);
        best_cost = cost;
      }
    }
    (void)graph.AddEdge(best_u, best_v, best_cost >= 0 ? best_cost : options_.default_cost_us);
    ++links_;
    ++links_estimated_;
    ++links_joining_;
  }
}

tree::VertexId Topology::ExtendGraph(const std::string& id, tree::OverlayGraph& graph,
                                     std::vector<std::string>& names,
                                     const std::map<std::string, tree::VertexId>& vertex_of) const {
  const NodeSpec& spec = nodes_.at(id);
  const tree::VertexId v =
      graph.AddVertex(tree::VertexInfo{id, static_cast<int32_t>(spec.max_fanout),
                                       static_cast<int64_t>(spec.upload_bps), DomainOf(id)});
  if (!static_links_.empty()) {
    for (const StaticLink& link : static_links_) {
      const std::string* other = link.a == id ? &link.b : link.b == id ? &link.a : nullptr;
      if (other == nullptr) continue;
      if (auto u = vertex_of.find(*other); u != vertex_of.end()) {
        (void)graph.AddEdge(u->second, v, link.cost_us);
      }
    }
  } else if (probes_.full_mesh()) {
    for (tree::VertexId u = 0; u < v; ++u) (void)graph.AddEdge(u, v, LinkCost(names[u], id));
  } else {
    // Its own probe peers; nobody probes a node that just arrived.
    for (const std::string& peer : probes_.PeersOf(id)) {
      if (auto u = vertex_of.find(peer); u != vertex_of.end()) {
        (void)graph.AddEdge(u->second, v, LinkCost(peer, id));
      }
    }
  }
  names.push_back(id);
  return v;
}

}  // namespace canopy::controller
