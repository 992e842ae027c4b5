#include "tree/components.h"

#include "boost/graph/depth_first_search.hpp"
#include "boost/property_map/property_map.hpp"
#include "tree/overlay_graph_boost.h"

namespace canopy::tree {

namespace {

// Numbers each DFS root's component: roots come in vertex order, so
// components are numbered in order of their lowest vertex.
class ComponentRecorder : public boost::default_dfs_visitor {
 public:
  explicit ComponentRecorder(Components& out) : out_(out) {}
  void start_vertex(VertexId, const OverlayGraph&) { ++out_.count; }
  void discover_vertex(VertexId v, const OverlayGraph&) {
    out_.component[static_cast<size_t>(v)] = out_.count - 1;
  }

 private:
  Components& out_;
};

}  // namespace

Components ConnectedComponents(const OverlayGraph& graph) {
  Components out;
  out.component.resize(static_cast<size_t>(graph.VertexCount()));
  if (graph.VertexCount() == 0) return out;
  // boost::connected_components wants an undirected graph type; the
  // adapter's directed view lists every link from both ends, so a
  // depth-first search over it reaches exactly each vertex's component.
  std::vector<boost::default_color_type> color(static_cast<size_t>(graph.VertexCount()));
  auto color_map = boost::make_iterator_property_map(
      color.begin(), boost::typed_identity_property_map<VertexId>());
  boost::depth_first_search(graph, ComponentRecorder(out), color_map);
  return out;
}

}  // namespace canopy::tree
