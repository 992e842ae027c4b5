#include "tree/bulk_shape.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tree/bulk.h"
#include "tree/flow_tree.h"

namespace canopy::tree {
namespace {

// The reference object shapes are compared on: 1 GiB in 1 MiB chunks (the
// SDK's default chunk).
constexpr double kReferenceObjectBits = 8.0 * kBulkReferenceBytes;
constexpr double kReferenceChunkBits = 8.0 * (1 << 20);

// Stream rates a forest is built for, as fractions of the bound's rate: a
// forest built for too high a rate has no room for every member, one built
// for too low a rate leaves upload unused. The highest rate that fits is
// searched for between these (bisection steps), then a few rates below it
// are tried too, as a lower rate gives more slots and shallower trees.
constexpr double kLowestRateFraction = 0.2;
constexpr int kRateBisections = 7;
constexpr double kBelowFitFractions[] = {0.97, 0.93, 0.85};

bool HopsAreLinks(const tree::OverlayGraph& graph, const RootedTree& t) {
  for (VertexId v = 0; v < static_cast<VertexId>(t.parent.size()); ++v) {
    if (t.parent[v] != kNoVertex && !graph.Cost(t.parent[v], v).has_value()) return false;
  }
  return true;
}

double UploadOf(const tree::OverlayGraph& graph, VertexId v, double default_upload_bps) {
  const int64_t up = graph.Vertex(v).upload_bps;
  return up > 0 ? static_cast<double>(up) : default_upload_bps;
}

std::optional<RootedTree> ChainTree(const tree::OverlayGraph& graph, VertexId root,
                                    const tree::PointDistances& distances) {
  absl::StatusOr<tree::PipelinedChain> chain = tree::BuildPipelinedChain(graph, distances);
  if (!chain.ok()) return std::nullopt;
  RootedTree t;
  t.root = root;
  t.parent.assign(graph.VertexCount(), kNoVertex);
  for (size_t i = 1; i < chain->order.size(); ++i) t.parent[chain->order[i]] = chain->order[i - 1];
  t.cost = chain->cost;
  if (!HopsAreLinks(graph, t)) return std::nullopt;
  return t;
}

// The stream rate of the bound max{F/u_s, N·F/(u_s + Σu_i)}.
template <typename Members>
double BoundRate(const tree::OverlayGraph& graph, VertexId root, const Members& members,
                 double default_upload_bps) {
  const double source_up = UploadOf(graph, root, default_upload_bps);
  double total_up = source_up;
  for (VertexId m : members) total_up += UploadOf(graph, m, default_upload_bps);
  return std::min(source_up, total_up / static_cast<double>(std::max<size_t>(1, members.size())));
}

// The best forest of `width` trees near the highest stream rate that fits,
// or nullopt if none fits even at the lowest rate tried.
std::optional<BulkShape> BestForest(const tree::OverlayGraph& graph,
                                    const tree::PointDistances& distances, double bound_bps,
                                    int width, double default_upload_bps) {
  std::optional<BulkShape> best;
  // Builds the forest for `fraction` of the bound's rate and keeps it if it
  // is the best so far; false if it does not fit.
  auto try_rate = [&](double fraction) {
    absl::StatusOr<tree::StripedForest> forest = tree::BuildStripedForest(
        graph, distances, width, static_cast<int64_t>(bound_bps * fraction));
    if (!forest.ok() || !std::all_of(forest->stripes.begin(), forest->stripes.end(),
                                     [&](const RootedTree& t) { return HopsAreLinks(graph, t); })) {
      return false;
    }
    const double seconds = PredictBulkSeconds(graph, forest->stripes, default_upload_bps);
    if (!best || seconds < best->predicted_seconds) {
      best = BulkShape{BulkShape::Kind::kForest, std::move(forest->stripes), width, seconds};
    }
    return true;
  };
  double fits = 0;
  if (try_rate(1.0)) {
    fits = 1.0;
  } else if (try_rate(kLowestRateFraction)) {
    double low = kLowestRateFraction, high = 1.0;  // low fits, high does not
    for (int i = 0; i < kRateBisections; ++i) {
      const double mid = (low + high) / 2;
      (try_rate(mid) ? low : high) = mid;
    }
    fits = low;
  }
  if (fits == 0) return std::nullopt;
  for (double below : kBelowFitFractions) try_rate(fits * below);
  return best;
}

// `trees` repeated so that stripe i of `stripes` gets trees[i % size].
std::vector<RootedTree> PerStripe(const std::vector<RootedTree>& trees, int stripes) {
  std::vector<RootedTree> out;
  out.reserve(stripes);
  for (int i = 0; i < stripes; ++i) out.push_back(trees[i % trees.size()]);
  return out;
}

}  // namespace

const char* BulkShapeName(BulkShape::Kind kind) {
  switch (kind) {
    case BulkShape::Kind::kChain:
      return "chain";
    case BulkShape::Kind::kTree:
      return "tree";
    case BulkShape::Kind::kForest:
      return "forest";
  }
  return "?";
}

double PredictBulkSeconds(const tree::OverlayGraph& graph, const std::vector<RootedTree>& trees,
                          double default_upload_bps) {
  tree::StripedForest forest;
  forest.stripes = trees;
  return tree::PredictedForestSeconds(graph, forest, kReferenceObjectBits, kReferenceChunkBits,
                                      default_upload_bps);
}

absl::StatusOr<BulkShape> ChooseBulkShape(const tree::OverlayGraph& graph, VertexId root,
                                          const std::set<VertexId>& members, int stripes,
                                          double default_upload_bps) {
  const std::vector<VertexId> member_list(members.begin(), members.end());
  // Every shape hops along the same closure; a point it cannot reach leaves
  // only the fan-out limited tree to say why.
  absl::StatusOr<tree::PointDistances> distances =
      tree::ComputePointDistances(graph, root, member_list);
  const double bound_bps = BoundRate(graph, root, members, default_upload_bps);
  std::optional<BulkShape> best;
  auto consider = [&](BulkShape::Kind kind, std::vector<RootedTree> trees) {
    const double seconds = PredictBulkSeconds(graph, trees, default_upload_bps);
    if (!best || seconds < best->predicted_seconds) {
      best = BulkShape{kind, std::move(trees), 1, seconds};
    }
  };
  if (distances.ok()) {
    if (std::optional<RootedTree> chain = ChainTree(graph, root, *distances)) {
      consider(BulkShape::Kind::kChain, {*chain});
    }
  }
  absl::StatusOr<LatencyFlowTree> spt = LatencyFlowTree::Build(graph, root, members);
  if (spt.ok()) consider(BulkShape::Kind::kTree, {spt->tree()});
  for (int width = 2; width <= stripes && !members.empty() && distances.ok(); ++width) {
    if (stripes % width != 0) continue;
    if (std::optional<BulkShape> forest =
            BestForest(graph, *distances, bound_bps, width, default_upload_bps);
        forest && (!best || forest->predicted_seconds < best->predicted_seconds)) {
      best = std::move(forest);
    }
  }
  if (!best) return spt.status();
  best->trees = PerStripe(best->trees, stripes);
  return *std::move(best);
}

absl::StatusOr<BulkShape> BuildBulkForest(const tree::OverlayGraph& graph, VertexId root,
                                          const std::set<VertexId>& members, int width,
                                          double default_upload_bps) {
  const std::vector<VertexId> member_list(members.begin(), members.end());
  absl::StatusOr<tree::PointDistances> distances =
      tree::ComputePointDistances(graph, root, member_list);
  if (!distances.ok()) return distances.status();
  std::optional<BulkShape> forest =
      BestForest(graph, *distances, BoundRate(graph, root, members, default_upload_bps), width,
                 default_upload_bps);
  if (!forest) {
    return absl::FailedPreconditionError(
        absl::StrCat("no forest of ", width, " trees fits the members' uploads"));
  }
  return *std::move(forest);
}

double BulkBoundSeconds(const tree::OverlayGraph& graph, VertexId root,
                        const std::set<VertexId>& members, double default_upload_bps) {
  return kReferenceObjectBits / BoundRate(graph, root, members, default_upload_bps);
}

}  // namespace canopy::tree
