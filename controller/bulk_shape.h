#ifndef CANOPY_CONTROLLER_BULK_SHAPE_H_
#define CANOPY_CONTROLLER_BULK_SHAPE_H_

#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::controller {

// The trees a `bulk` source's content is pushed down. An unstriped source
// has one flow; a striped one (proto/stripe_source.h) has one flow per
// stripe, and trees[i] carries stripe i.
struct BulkShape {
  enum class Kind { kChain, kTree, kForest };
  Kind kind = Kind::kTree;
  // One per stripe. A chain or tree is the same for every stripe; a forest
  // gives each stripe its own tree.
  std::vector<tree::RootedTree> trees;
  double predicted_seconds = 0;  // for the reference object
};

const char* BulkShapeName(BulkShape::Kind kind);

// Picks the shape predicted to deliver a reference object (1 GiB in 1 MiB
// chunks) to `members` soonest, using the vertices' upload capacities
// (unknown counts as `default_upload_bps`): the pipelined chain, the
// fan-out limited shortest-path tree, and — for `stripes` > 1 — striped
// forests built for a few stream rates up to the bound's. Shapes whose hops
// are not overlay links are not considered. Ties prefer the chain, then the
// tree. Deterministic.
// REQUIRES: stripes >= 1, default_upload_bps > 0.
// FailedPrecondition if no shape reaches every member.
absl::StatusOr<BulkShape> ChooseBulkShape(const tree::OverlayGraph& graph, tree::VertexId root,
                                          const std::set<tree::VertexId>& members, int stripes,
                                          double default_upload_bps);

// Predicted seconds for the reference object over `trees` (one per stripe),
// as ChooseBulkShape compares them.
double PredictBulkSeconds(const tree::OverlayGraph& graph,
                          const std::vector<tree::RootedTree>& trees, double default_upload_bps);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_BULK_SHAPE_H_
