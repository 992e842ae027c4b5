#ifndef CANOPY_TREE_BULK_H_
#define CANOPY_TREE_BULK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::tree {

// Bulk-transfer shapes work on the overlay's metric closure: a hop between
// two vertices is the shortest path between them and costs its length.

// The metric closure restricted to a source and its members, computed once
// and shared by every shape built for them.
struct PointDistances {
  std::vector<VertexId> points;            // points[0] is the source, then each member once
  std::vector<std::vector<int64_t>> dist;  // dist[i][j]: shortest path points[i] -> points[j]
};

// Shortest-path lengths between every pair of {source} ∪ members (one
// Dijkstra per point); where every pair is an overlay link (a full mesh),
// the links' costs, the hops a shape takes there. InvalidArgument for bad ids, FailedPrecondition
// if a point cannot reach another (names them).
absl::StatusOr<PointDistances> ComputePointDistances(const OverlayGraph& graph, VertexId source,
                                                     absl::Span<const VertexId> members);

// A pipelined chain source -> order[1] -> order[2] -> ...: every vertex
// forwards each block to exactly one successor, so each uploads one copy.
struct PipelinedChain {
  std::vector<VertexId> order;  // order[0] is the source, then every member once
  int64_t cost = 0;             // sum of hop lengths
  int64_t bottleneck_bps = 0;   // min known upload among forwarding vertices (0 = unknown)
};

// Orders the members by nearest neighbour from the source, then improves the
// order with 2-opt until no reversal shortens the chain. A member whose known
// upload_bps is below `stream_bps` cannot forward at full rate and is placed
// last. Deterministic.
// Returns InvalidArgument for bad ids, FailedPrecondition if a member is
// unreachable or more than one member is too slow to forward (names them).
absl::StatusOr<PipelinedChain> BuildPipelinedChain(const OverlayGraph& graph, VertexId source,
                                                   absl::Span<const VertexId> members,
                                                   int64_t stream_bps = 0);
// The same over distances already computed for the source and members.
absl::StatusOr<PipelinedChain> BuildPipelinedChain(const OverlayGraph& graph,
                                                   const PointDistances& distances,
                                                   int64_t stream_bps = 0);

// k trees, one per stripe of the content (SplitStream): each member is
// interior in at most one stripe and a leaf in the others, so upload is spread
// over all members.
struct StripedForest {
  std::vector<RootedTree> stripes;       // parent links are hops; cost = sum of hop lengths
  std::vector<int32_t> interior_stripe;  // per vertex: stripe it relays in, or -1
};

// Builds k stripes of rate stream_bps / k. Members are dealt to stripes by
// decreasing upload, each to the stripe whose members' uploads add up to the
// least so far; a vertex may feed
// floor(upload_bps / (stream_bps / k)) children (max_fanout also applies;
// unknown upload means only max_fanout limits it); the source's slots are
// shared fairly by all stripes. Each stripe first places its own members
// that can feed a child, those with most slots first (nearest first among
// equals), then hangs every other member as a leaf; each goes under the
// shallowest interior vertex with a free slot (the nearest of those), since
// every hop delays a pipelined stripe by a chunk.
// REQUIRES: k >= 1. Returns FailedPrecondition when upload capacity cannot
// carry every member in every stripe, InvalidArgument for bad ids.
absl::StatusOr<StripedForest> BuildStripedForest(const OverlayGraph& graph, VertexId source,
                                                 absl::Span<const VertexId> members, int32_t k,
                                                 int64_t stream_bps);
// The same over distances already computed for the source and members.
absl::StatusOr<StripedForest> BuildStripedForest(const OverlayGraph& graph,
                                                 const PointDistances& distances, int32_t k,
                                                 int64_t stream_bps);

// Lower bound on the time to deliver `file_bits` to n receivers:
// max{F/u_s, F/d_min, n·F/(u_s + Σu_i)} in seconds. Rates in bit/s, > 0.
double DistributionTimeBound(double file_bits, double source_upload_bps, double min_download_bps,
                             int64_t receivers, double sum_receiver_upload_bps);

// Predicted time to push `file_bits` down `tree` in chunks of `chunk_bits`,
// pipelined: a vertex forwards each chunk to all its children as soon as it
// has it, splitting its upload equally among them. The stream runs at the
// slowest forwarding vertex's upload / children, and the deepest member
// waits one chunk per hop before its stream starts:
//   file_bits / rate + (depth - 1) * chunk_bits / rate.
// Vertices of unknown upload count as `default_upload_bps`. 0 for a tree
// without edges. REQUIRES: default_upload_bps > 0, tree.parent sized for
// `graph`.
double PredictedDistributionSeconds(const OverlayGraph& graph, const RootedTree& tree,
                                    double file_bits, double chunk_bits, double default_upload_bps);

// Predicted time to push `file_bits` split evenly over the forest's stripes,
// each pipelined down its own tree as PredictedDistributionSeconds models it:
// a vertex splits its upload over all its children in every stripe (the
// source, interior in all of them, shares its upload by all), and the
// forest finishes with its slowest stripe. 0 for a forest without edges.
// REQUIRES: default_upload_bps > 0, every stripe's parent sized for `graph`.
double PredictedForestSeconds(const OverlayGraph& graph, const StripedForest& forest,
                              double file_bits, double chunk_bits, double default_upload_bps);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_BULK_H_
