#ifndef CANOPY_TREE_OVERLAY_GRAPH_H_
#define CANOPY_TREE_OVERLAY_GRAPH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace canopy::tree {

// Dense index of a vertex inside one OverlayGraph: 0 .. VertexCount()-1.
using VertexId = int32_t;
inline constexpr VertexId kNoVertex = -1;

// What the tree algorithms need to know about one overlay node.
struct VertexInfo {
  std::string name;            // the node id, for error messages
  int32_t max_fanout = 0;      // children this vertex may feed; 0 = unlimited
  int64_t upload_bps = 0;      // upload capacity in bit/s; 0 = unknown
  std::string lan;             // multicast domain id; empty = none
};

// One undirected overlay link with a non-negative cost (RTT in µs or a
// configured weight) and a capacity in bit/s (0 = unknown).
struct Edge {
  VertexId u = kNoVertex;
  VertexId v = kNoVertex;
  int64_t cost = 0;
  int64_t capacity_bps = 0;

  friend bool operator==(const Edge&, const Edge&) = default;
};

// An undirected graph of overlay nodes and links. Parallel edges are folded
// into the cheapest one. Thread-compatible: const methods may be called
// concurrently, mutation needs external synchronisation.
class OverlayGraph {
 public:
  OverlayGraph() = default;

  // Adds a vertex and returns its id (ids are dense, in insertion order).
  VertexId AddVertex(VertexInfo info);

  // Adds the link {u, v}. If a link {u, v} exists the cheaper one is kept.
  // Returns InvalidArgument for unknown vertices, self loops or a negative
  // cost.
  absl::Status AddEdge(VertexId u, VertexId v, int64_t cost,
                       int64_t capacity_bps = 0);

  // Number of vertices.
  int32_t VertexCount() const { return static_cast<int32_t>(vertices_.size()); }

  // REQUIRES: 0 <= v < VertexCount().
  const VertexInfo& Vertex(VertexId v) const { return vertices_[v]; }

  // Links incident to v, each once. REQUIRES: 0 <= v < VertexCount().
  const std::vector<Edge>& Adjacent(VertexId v) const { return adjacency_[v]; }

  // Cost of the link {u, v}, or nullopt if there is none (or an id is out of
  // range). O(degree of u).
  std::optional<int64_t> Cost(VertexId u, VertexId v) const;

  // Every link once, with u < v.
  std::vector<Edge> Edges() const;

 private:
  std::vector<VertexInfo> vertices_;
  std::vector<std::vector<Edge>> adjacency_;  // adjacency_[v][i].u == v
  // {min(u,v), max(u,v)} → cost: O(1) parallel-edge checks and Cost().
  absl::flat_hash_map<uint64_t, int64_t> edge_cost_;
};

}  // namespace canopy::tree

#endif  // CANOPY_TREE_OVERLAY_GRAPH_H_
