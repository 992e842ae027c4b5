#ifndef CANOPY_TREE_OVERLAY_GRAPH_BOOST_H_
#define CANOPY_TREE_OVERLAY_GRAPH_BOOST_H_

// Makes OverlayGraph a Boost.Graph graph (IncidenceGraph and
// VertexListGraph, directed view of the undirected links: each link appears
// once as an out-edge of each end), so Boost.Graph algorithms run on it in
// place, without copying the graph. Vertex descriptors are VertexId (their own
// index); edge descriptors are Edge values with u = source, v = target.

#include <cstddef>
#include <utility>
#include <vector>

#include "boost/graph/graph_traits.hpp"
#include "boost/graph/properties.hpp"
#include "boost/iterator/counting_iterator.hpp"
#include "boost/property_map/property_map.hpp"
#include "tree/overlay_graph.h"

namespace boost {

template <>
struct graph_traits<canopy::tree::OverlayGraph> {
  using vertex_descriptor = canopy::tree::VertexId;
  using edge_descriptor = canopy::tree::Edge;
  using directed_category = directed_tag;
  using edge_parallel_category = disallow_parallel_edge_tag;
  struct traversal_category : incidence_graph_tag, vertex_list_graph_tag {};
  using out_edge_iterator = std::vector<canopy::tree::Edge>::const_iterator;
  using vertex_iterator = counting_iterator<canopy::tree::VertexId>;
  using degree_size_type = std::size_t;
  using vertices_size_type = std::size_t;
  using edges_size_type = std::size_t;
  // Not modelled: AdjacencyGraph, EdgeListGraph, BidirectionalGraph.
  using adjacency_iterator = void;
  using in_edge_iterator = void;
  using edge_iterator = void;
  static vertex_descriptor null_vertex() { return canopy::tree::kNoVertex; }
};

}  // namespace boost

namespace canopy::tree {

// Boost.Graph free functions for OverlayGraph, found by argument-dependent
// lookup. REQUIRES for all: v is a vertex of g.
inline VertexId source(const Edge& e, const OverlayGraph&) { return e.u; }
inline VertexId target(const Edge& e, const OverlayGraph&) { return e.v; }
inline std::pair<std::vector<Edge>::const_iterator, std::vector<Edge>::const_iterator>
out_edges(VertexId v, const OverlayGraph& g) {
  const std::vector<Edge>& adj = g.Adjacent(v);
  return {adj.begin(), adj.end()};
}
inline std::size_t out_degree(VertexId v, const OverlayGraph& g) {
  return g.Adjacent(v).size();
}
inline std::pair<boost::counting_iterator<VertexId>, boost::counting_iterator<VertexId>>
vertices(const OverlayGraph& g) {
  return {boost::counting_iterator<VertexId>(0),
          boost::counting_iterator<VertexId>(g.VertexCount())};
}
inline std::size_t num_vertices(const OverlayGraph& g) {
  return static_cast<std::size_t>(g.VertexCount());
}

// Readable property map: an edge's cost.
struct EdgeCostMap {
  using key_type = Edge;
  using value_type = int64_t;
  using reference = int64_t;
  using category = boost::readable_property_map_tag;
};
inline int64_t get(EdgeCostMap, const Edge& e) { return e.cost; }

}  // namespace canopy::tree

#endif  // CANOPY_TREE_OVERLAY_GRAPH_BOOST_H_
