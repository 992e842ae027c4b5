#ifndef CANOPY_TREE_BULK_SHAPE_H_
#define CANOPY_TREE_BULK_SHAPE_H_

#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {

// The trees a `bulk` source's content is pushed down. An unstriped source
// has one flow; a striped one (base/stripe_source.h) has one flow per
// stripe, and trees[i] carries stripe i.
struct BulkShape {
  enum class Kind { kChain, kTree, kForest };
  Kind kind = Kind::kTree;
  // One per stripe. A chain or tree is the same for every stripe; a forest
  // of `distinct_trees` trees gives stripe i tree i % distinct_trees.
  std::vector<tree::RootedTree> trees;
  // How many different trees the stripes use: 1 for a chain or tree, the
  // forest's width (a divisor of the stripe count) otherwise. This is the
  // stripe count the planner chose; the sender's count is its upper bound.
  int distinct_trees = 1;
  double predicted_seconds = 0;  // for the reference object
};

const char* BulkShapeName(BulkShape::Kind kind);

// Picks the shape predicted to deliver a reference object (1 GiB in 1 MiB
// chunks) to `members` soonest, using the vertices' upload capacities
// (unknown counts as `default_upload_bps`): the pipelined chain, the
// fan-out limited shortest-path tree, and — for `stripes` > 1 — striped
// forests of every width d > 1 that divides `stripes` (stripe i rides tree
// i % d), each built for a few stream rates up to the bound's. So a sender
// that stripes over K flows lets the planner choose how many trees to use.
// Shapes whose hops are not overlay links are not considered. Ties prefer
// the chain, then the tree, then the narrower forest. Deterministic.
// REQUIRES: stripes >= 1, default_upload_bps > 0.
// FailedPrecondition if no shape reaches every member.
absl::StatusOr<BulkShape> ChooseBulkShape(const tree::OverlayGraph& graph, tree::VertexId root,
                                          const std::set<tree::VertexId>& members, int stripes,
                                          double default_upload_bps);

// The best striped forest of exactly `width` trees (stripe i of
// `trees.size()` = `width` rides tree i), built as ChooseBulkShape builds
// forests; FailedPrecondition when no forest of that width fits the
// uploads. REQUIRES: width >= 1, default_upload_bps > 0.
absl::StatusOr<BulkShape> BuildBulkForest(const tree::OverlayGraph& graph, tree::VertexId root,
                                          const std::set<tree::VertexId>& members, int width,
                                          double default_upload_bps);

// Predicted seconds for the reference object split evenly over `trees`
// (one per distinct stripe tree), as ChooseBulkShape compares them.
double PredictBulkSeconds(const tree::OverlayGraph& graph,
                          const std::vector<tree::RootedTree>& trees, double default_upload_bps);

// Seconds of the reference object (1 GiB) over the distribution bound
// max{F/u_s, N·F/(u_s + Σu_i)} for `members` fed from `root`, with unknown
// uploads counted as `default_upload_bps`. REQUIRES: default_upload_bps > 0.
double BulkBoundSeconds(const tree::OverlayGraph& graph, tree::VertexId root,
                        const std::set<tree::VertexId>& members, double default_upload_bps);

// Size of the reference object shapes are compared on, in bytes.
inline constexpr double kBulkReferenceBytes = double{1 << 30};

}  // namespace canopy::tree

#endif  // CANOPY_TREE_BULK_SHAPE_H_
