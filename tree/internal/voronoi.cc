#include "tree/internal/voronoi.h"

#include "tree/internal/steiner_core.h"
#include "tree/shortest_paths.h"

static_assert(canopy::tree::kUnreachable == canopy::tree::internal::kInf);

namespace canopy::tree::internal {

void ComputeVoronoi(const OverlayGraph& graph, const std::vector<char>& is_source,
                    Voronoi& out, WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  PathLabels labels(n);
  std::vector<VertexId> sources;
  for (VertexId v = 0; v < n; ++v) {
    if (is_source[v]) {
      sources.push_back(v);
      labels.Seed(v, 0);
    }
  }
  SearchLimits limits;
  limits.budget = budget;
  ShortestPaths(graph, sources, limits, labels);
  out.dist = labels.Dists();
  out.pred = labels.Preds();
  // A vertex's base is its predecessor's: walk up to a known base, then
  // write it along the walked path. O(n) in all.
  out.base.assign(n, kNoVertex);
  std::vector<VertexId> path;
  for (VertexId v = 0; v < n; ++v) {
    if (out.dist[v] >= kInf || out.base[v] != kNoVertex) continue;
    VertexId x = v;
    for (; out.base[x] == kNoVertex && out.pred[x] != kNoVertex; x = out.pred[x]) {
      path.push_back(x);
    }
    const VertexId base = out.base[x] != kNoVertex ? out.base[x] : x;  // x is a source
    out.base[x] = base;
    for (VertexId y : path) out.base[y] = base;
    path.clear();
  }
}

}  // namespace canopy::tree::internal
