#ifndef CANOPY_TREE_COMPONENTS_H_
#define CANOPY_TREE_COMPONENTS_H_

#include <cstdint>
#include <vector>

#include "tree/overlay_graph.h"

namespace canopy::tree {

// The connected components of the graph's links (multicast domains do not
// join anything here): component[v] in 0..count-1 for every vertex,
// numbered in order of their lowest vertex. A Boost.Graph depth-first
// search on the graph in place (tree/overlay_graph_boost.h);
// O(vertices + links).
struct Components {
  std::vector<int32_t> component;
  int32_t count = 0;
};
Components ConnectedComponents(const OverlayGraph& graph);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_COMPONENTS_H_
