#ifndef CANOPY_TREE_LAN_H_
#define CANOPY_TREE_LAN_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"
#include "tree/steiner.h"

namespace canopy::tree {

// Which tree the LAN-aware builder computes on the contracted graph.
enum class TreeProfile { kLatency, kCost };

// A tree in which each multicast-capable LAN (vertices sharing a non-empty
// VertexInfo::lan) counts as one hyper-node: one copy enters the LAN at its
// designated forwarder, which re-emits it by native multicast.
struct LanTree {
  // Over the original graph's vertices. For a vertex reached by LAN
  // multicast, parent is its LAN's forwarder and the link costs nothing (it
  // need not be a graph edge); every other parent link is a graph edge.
  RootedTree tree;
  // via_lan[v]: v receives by LAN multicast from its forwarder.
  std::vector<char> via_lan;
  // LAN id -> designated forwarder, for every LAN the tree enters.
  absl::flat_hash_map<std::string, VertexId> forwarder;
};

// Contracts every LAN to one hyper-node (inter-LAN links keep the cheapest
// one per pair, zero internal cost; the hyper-node's fan-out is the sum of its
// vertices' limits, unlimited if any is unlimited), builds the `profile` tree
// from root to members there, and expands it: the LAN vertex at which the
// tree enters a LAN is its designated forwarder (the root in the root's LAN);
// LAN members, and LAN vertices that relay to other LANs, receive by
// multicast. tree.cost counts only inter-LAN links.
//
// Errors as ShortestPathTree / SteinerRootedTree (names are the vertices' or
// "lan:<id>" for a hyper-node).
absl::StatusOr<LanTree> BuildLanTree(const OverlayGraph& graph, VertexId root,
                                     absl::Span<const VertexId> members, TreeProfile profile,
                                     const SteinerOptions& options = {});

}  // namespace canopy::tree

#endif  // CANOPY_TREE_LAN_H_
