#include "tree/overlay_graph.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace canopy::tree {
namespace {

uint64_t EdgeKey(VertexId u, VertexId v) {
  if (u > v) std::swap(u, v);
  return (static_cast<uint64_t>(static_cast<uint32_t>(u)) << 32) | static_cast<uint32_t>(v);
}

}  // namespace

VertexId OverlayGraph::AddVertex(VertexInfo info) {
  vertices_.push_back(std::move(info));
  adjacency_.emplace_back();
  return static_cast<VertexId>(vertices_.size() - 1);
}

absl::Status OverlayGraph::AddEdge(VertexId u, VertexId v, int64_t cost,
                                   int64_t capacity_bps) {
  if (u < 0 || v < 0 || u >= VertexCount() || v >= VertexCount()) {
    return absl::InvalidArgumentError(
        absl::StrCat("edge {", u, ", ", v, "} names an unknown vertex"));
  }
  if (u == v) {
    return absl::InvalidArgumentError(absl::StrCat("self loop at vertex ", u));
  }
  if (cost < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("edge {", u, ", ", v, "} has negative cost ", cost));
  }
  const uint64_t key = EdgeKey(u, v);
  auto [it, inserted] = edge_cost_.try_emplace(key, cost);
  if (!inserted) {
    if (cost < it->second) {  // keep the cheaper of parallel edges
      it->second = cost;
      for (auto [from, to] : {std::pair{u, v}, std::pair{v, u}}) {
        for (Edge& e : adjacency_[from]) {
          if (e.v != to) continue;
          e.cost = cost;
          e.capacity_bps = capacity_bps;
        }
      }
    }
    return absl::OkStatus();
  }
  adjacency_[u].push_back(Edge{u, v, cost, capacity_bps});
  adjacency_[v].push_back(Edge{v, u, cost, capacity_bps});
  return absl::OkStatus();
}

std::optional<int64_t> OverlayGraph::Cost(VertexId u, VertexId v) const {
  if (u < 0 || v < 0 || u >= VertexCount() || v >= VertexCount()) return std::nullopt;
  auto it = edge_cost_.find(EdgeKey(u, v));
  if (it == edge_cost_.end()) return std::nullopt;
  return it->second;
}

std::vector<Edge> OverlayGraph::Edges() const {
  std::vector<Edge> out;
  for (const auto& list : adjacency_) {
    for (const Edge& e : list) {
      if (e.u < e.v) out.push_back(e);
    }
  }
  return out;
}

}  // namespace canopy::tree
