#ifndef CANOPY_TREE_INCREMENTAL_H_
#define CANOPY_TREE_INCREMENTAL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"
#include "tree/steiner.h"

namespace canopy::tree {

// Adds `member` to `tree` by its cheapest attachment: the shortest path,
// through vertices outside the tree, to a tree vertex with a free fan-out
// slot. A member already in the tree is left alone. O(m log n).
// Returns InvalidArgument for a bad id, FailedPrecondition (naming the
// member) if no attachment exists. On error `tree` is unchanged.
absl::Status GraftMember(const OverlayGraph& graph, VertexId member, RootedTree& tree);

// Removes `member` from `tree`: if it is a leaf it is cut, and so are the
// ancestors that become leaves and are neither the root nor in
// `remaining_members`. A member with children stays as a relay.
// Returns InvalidArgument for a bad id or a member not in the tree.
absl::Status PruneMember(const OverlayGraph& graph, VertexId member,
                         absl::Span<const VertexId> remaining_members, RootedTree& tree);

// Result of an improvement pass.
struct Improvement {
  RootedTree tree;   // never costlier than the input tree
  int64_t gain = 0;  // input cost - new cost (>= 0)
};

// Re-optimises `current` for `members`: local search from the current tree
// plus a fresh SteinerRootedTree search under `options`; keeps the cheapest
// tree that honours fan-out limits. The caller compares `gain` with its
// hysteresis threshold before switching trees. Deterministic.
// REQUIRES: current is a valid tree of graph containing root and members.
absl::StatusOr<Improvement> ImproveTree(const OverlayGraph& graph, const RootedTree& current,
                                        absl::Span<const VertexId> members,
                                        const SteinerOptions& options = {});

}  // namespace canopy::tree

#endif  // CANOPY_TREE_INCREMENTAL_H_
