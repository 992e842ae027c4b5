#include "tree/internal/voronoi.h"

#include "tree/internal/steiner_core.h"
#include "tree/shortest_paths.h"

namespace canopy::tree::internal {

static_assert(kInf == kUnreachable, "Voronoi distances are ShortestPaths distances");

void ComputeVoronoi(const OverlayGraph& graph, const std::vector<char>& is_source, Voronoi& out,
                    WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  PathLabels labels(n);
  std::vector<VertexId> sources;
  for (VertexId v = 0; v < n; ++v) {
    if (is_source[v]) {
      sources.push_back(v);
      labels.Seed(v, 0);
    }
  }
  out.base.assign(n, kNoVertex);
  // A settled vertex's predecessor was settled before it: its base is known.
  auto settle = [&](VertexId v) {
    const VertexId p = labels.Pred(v);
    out.base[v] = p == kNoVertex ? v : out.base[p];
    return false;  // no targets: the regions cover the whole graph
  };
  SearchLimits limits;
  limits.budget = budget;
  ShortestPaths(graph, sources, limits, labels, AllEdges{}, settle);
  out.dist.assign(labels.Dists().begin(), labels.Dists().end());
  out.pred.assign(labels.Preds().begin(), labels.Preds().end());
}

}  // namespace canopy::tree::internal
