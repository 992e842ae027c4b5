#include "tree/mehlhorn.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <vector>

#include "tree/internal/steiner_core.h"
#include "tree/internal/voronoi.h"

namespace canopy::tree {
namespace internal {

// Declared in internal/sph.h as well; kept here so Mehlhorn stays one file.
std::vector<char> MehlhornVertexSet(const OverlayGraph& graph,
                                    const std::vector<char>& is_terminal,
                                    WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  Voronoi vor;
  ComputeVoronoi(graph, is_terminal, vor, budget);
  struct Candidate {
    int64_t cost;
    VertexId x, y;
  };
  std::vector<Candidate> candidates;
  for (VertexId x = 0; x < n; ++x) {
    if (vor.base[x] == kNoVertex) continue;
    for (const Edge& e : graph.Adjacent(x)) {
      if (e.v < x || vor.base[e.v] == kNoVertex || vor.base[e.v] == vor.base[x]) continue;
      candidates.push_back({vor.dist[x] + e.cost + vor.dist[e.v], x, e.v});
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.cost, a.x, a.y) < std::tie(b.cost, b.x, b.y);
  });
  std::vector<VertexId> uf(n);
  std::iota(uf.begin(), uf.end(), 0);
  auto find = [&](VertexId v) {
    while (uf[v] != v) v = uf[v] = uf[uf[v]];
    return v;
  };
  std::vector<char> in_set(is_terminal);
  for (const Candidate& c : candidates) {
    VertexId a = find(vor.base[c.x]), b = find(vor.base[c.y]);
    if (a == b) continue;
    uf[a] = b;
    for (VertexId v : {c.x, c.y}) {
      for (VertexId w = v; w != kNoVertex && !(in_set[w] && w != v); w = vor.pred[w]) {
        in_set[w] = 1;
      }
      in_set[v] = 1;
    }
  }
  return in_set;
}

}  // namespace internal

absl::StatusOr<SteinerSolution> MehlhornSteinerTree(
    const OverlayGraph& graph, absl::Span<const VertexId> terminals) {
  if (absl::Status s = internal::CheckTerminals(graph, terminals); !s.ok()) return s;
  std::vector<VertexId> unique = internal::UniqueTerminals(terminals);
  if (unique.size() <= 1) return SteinerSolution{};
  std::vector<char> is_terminal(graph.VertexCount(), 0);
  for (VertexId t : unique) is_terminal[t] = 1;
  std::vector<char> in_set = internal::MehlhornVertexSet(graph, is_terminal, nullptr);
  std::vector<Edge> edges;
  internal::MstPrune(graph, is_terminal, unique[0], in_set, edges, nullptr);
  return internal::Normalize(std::move(edges));
}

}  // namespace canopy::tree
