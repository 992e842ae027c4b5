#include "controller/bulk_shape.h"

#include <algorithm>
#include <optional>

#include "controller/flow_tree.h"
#include "tree/bulk.h"

namespace canopy::controller {
namespace {

using tree::kNoVertex;
using tree::RootedTree;
using tree::VertexId;

// The reference object shapes are compared on: 1 GiB in 1 MiB chunks (the
// SDK's default chunk).
constexpr double kReferenceObjectBits = 8.0 * (1 << 30);
constexpr double kReferenceChunkBits = 8.0 * (1 << 20);

// Stream rates a forest is built for, as fractions of the bound's rate:
// a forest built for too high a rate has no room for every member, one
// built for too low a rate leaves upload unused.
constexpr double kForestRateFractions[] = {1.0, 0.8, 0.6, 0.45, 0.3, 0.2};

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
                                    const std::vector<VertexId>& members) {
  absl::StatusOr<tree::PipelinedChain> chain = tree::BuildPipelinedChain(graph, root, members);
  if (!chain.ok()) return std::nullopt;
  RootedTree t;
  t.root = root;
  t.parent.assign(graph.VertexCount(), kNoVertex);
  for (size_t i = 1; i < chain->order.size(); ++i) t.parent[chain->order[i]] = chain->order[i - 1];
  t.cost = chain->cost;
  if (!HopsAreLinks(graph, t)) return std::nullopt;
  return t;
}

// The best forest over a few target rates, or nullopt if none fits.
std::optional<BulkShape> BestForest(const tree::OverlayGraph& graph, VertexId root,
                                    const std::vector<VertexId>& members, int stripes,
                                    double default_upload_bps) {
  // The rate of the bound max{F/u_s, N·F/(u_s + Σu_i)}.
  const double source_up = UploadOf(graph, root, default_upload_bps);
  double total_up = source_up;
  for (VertexId m : members) total_up += UploadOf(graph, m, default_upload_bps);
  const double bound_bps =
      std::min(source_up, total_up / static_cast<double>(std::max<size_t>(1, members.size())));
  std::optional<BulkShape> best;
  for (double fraction : kForestRateFractions) {
    absl::StatusOr<tree::StripedForest> forest = tree::BuildStripedForest(
        graph, root, members, stripes, static_cast<int64_t>(bound_bps * fraction));
    if (!forest.ok()) continue;
    if (!std::all_of(forest->stripes.begin(), forest->stripes.end(),
                     [&](const RootedTree& t) { return HopsAreLinks(graph, t); })) {
      continue;
    }
    const double seconds = PredictBulkSeconds(graph, forest->stripes, default_upload_bps);
    if (!best || seconds < best->predicted_seconds) {
      best = BulkShape{BulkShape::Kind::kForest, std::move(forest->stripes), seconds};
    }
  }
  return best;
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
  std::optional<BulkShape> best;
  auto consider = [&](BulkShape::Kind kind, std::vector<RootedTree> trees) {
    const double seconds = PredictBulkSeconds(graph, trees, default_upload_bps);
    if (!best || seconds < best->predicted_seconds) {
      best = BulkShape{kind, std::move(trees), seconds};
    }
  };
  if (std::optional<RootedTree> chain = ChainTree(graph, root, member_list)) {
    consider(BulkShape::Kind::kChain, std::vector<RootedTree>(stripes, *chain));
  }
  absl::StatusOr<LatencyFlowTree> spt = LatencyFlowTree::Build(graph, root, members);
  if (spt.ok()) consider(BulkShape::Kind::kTree, std::vector<RootedTree>(stripes, spt->tree()));
  if (stripes > 1 && !members.empty()) {
    if (std::optional<BulkShape> forest =
            BestForest(graph, root, member_list, stripes, default_upload_bps);
        forest && (!best || forest->predicted_seconds < best->predicted_seconds)) {
      best = std::move(forest);
    }
  }
  if (!best) return spt.status();
  return *std::move(best);
}

}  // namespace canopy::controller
