#include "tree/components.h"

#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/connected_components.hpp"

namespace canopy::tree {

Components ConnectedComponents(const OverlayGraph& graph) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;
  Graph g(static_cast<size_t>(graph.VertexCount()));
  for (VertexId v = 0; v < graph.VertexCount(); ++v) {
    for (const Edge& e : graph.Adjacent(v)) {
      if (e.u < e.v) boost::add_edge(static_cast<size_t>(e.u), static_cast<size_t>(e.v), g);
    }
  }
  Components out;
  out.component.resize(static_cast<size_t>(graph.VertexCount()));
  if (graph.VertexCount() == 0) return out;
  out.count = static_cast<int32_t>(boost::connected_components(g, out.component.data()));
  return out;
}

}  // namespace canopy::tree
