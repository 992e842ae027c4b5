#ifndef CANOPY_TREE_REACHABILITY_H_
#define CANOPY_TREE_REACHABILITY_H_

#include <vector>

#include "tree/overlay_graph.h"

namespace canopy::tree {

// Which vertices a tree rooted at `root` could reach at all, ignoring costs
// and fan-out limits: those joined to it by links, where every multicast
// domain (vertices sharing a non-empty VertexInfo::lan) also counts as joined
// within itself. Returns one flag per vertex; all false for a root out of
// range. O(vertices + links).
std::vector<char> ReachableFrom(const OverlayGraph& graph, VertexId root);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_REACHABILITY_H_
