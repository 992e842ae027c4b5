#ifndef CANOPY_TREE_FLOW_TREE_H_
#define CANOPY_TREE_FLOW_TREE_H_

#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {

// The tree of one (group, source) flow under the `latency` profile: a
// shortest-path spanning tree from the ingress (honouring fan-out limits),
// pruned to the vertices that want the source. Joins and leaves un-prune or
// prune one path: O(depth), no search.
//
// Thread-compatible.
class LatencyFlowTree {
 public:
  // Computes the spanning tree from `root` and prunes it to `wanted`.
  // Returns FailedPrecondition naming nodes the root cannot reach.
  static absl::StatusOr<LatencyFlowTree> Build(const tree::OverlayGraph& graph,
                                               tree::VertexId root,
                                               const std::set<tree::VertexId>& wanted);

  // Adds / removes one wanting vertex. Join returns false (and changes
  // nothing) if the spanning tree does not reach v — a vertex added to the
  // graph after Build(): the caller re-builds the flow.
  // REQUIRES: v is a vertex of the graph.
  bool Join(tree::VertexId v);
  void Leave(tree::VertexId v);

  const tree::RootedTree& tree() const { return tree_; }

  // The graph gained vertices (up to `vertex_count`); they are outside the
  // tree until a re-plan.
  void Grow(int32_t vertex_count);

 private:
  LatencyFlowTree(tree::RootedTree spanning, std::set<tree::VertexId> wanted);

  tree::RootedTree spanning_;          // every reachable vertex
  tree::RootedTree tree_;              // pruned to wanted_
  std::vector<int32_t> children_;      // per vertex, children in tree_
  std::set<tree::VertexId> wanted_;
};

// A tree rooted at `root` containing exactly the edges of `shared` that lie
// on paths from `root` to the vertices in `keep`. `shared` is read as an
// undirected tree; returns nullopt-like empty tree (root only) if root is
// not in it.
tree::RootedTree DeriveFromShared(const tree::RootedTree& shared, tree::VertexId root,
                                  const std::set<tree::VertexId>& keep);

// Sum of the graph costs of the tree's edges. Edges missing from the graph
// make the result kInvalidCost.
inline constexpr int64_t kInvalidCost = -1;
int64_t TreeCost(const tree::OverlayGraph& graph, const tree::RootedTree& tree);

// Largest root-to-vertex delay (sum of edge costs) over `vertices` in the
// tree; kInvalidCost if an edge is missing from the graph.
int64_t MaxDelay(const tree::OverlayGraph& graph, const tree::RootedTree& tree,
                 const std::set<tree::VertexId>& vertices);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_FLOW_TREE_H_
