#include "tree/internal/reduce.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

#include "tree/internal/steiner_core.h"
#include "tree/internal/voronoi.h"

namespace canopy::tree::internal {
namespace {

// Upper limits on the work of the optional tests (they are skipped beyond).
constexpr int64_t kMaxBottleneckPairs = int64_t{1} << 25;  // terminals²
constexpr int64_t kMaxTriangleWork = int64_t{1} << 27;     // Σ degree²

struct Arc {
  VertexId to;
  int32_t edge;
};

// Bottleneck Steiner distance test with the Voronoi bound.
void SdTest(const OverlayGraph& graph, const std::vector<char>& is_terminal,
            const std::vector<Edge>& edges, std::vector<char>& dead, WorkBudget* budget,
            int64_t& removed) {
  const int32_t n = graph.VertexCount();
  std::vector<VertexId> terms;
  std::vector<int32_t> index(n, -1);
  for (VertexId v = 0; v < n; ++v) {
    if (is_terminal[v]) {
      index[v] = static_cast<int32_t>(terms.size());
      terms.push_back(v);
    }
  }
  const int64_t k = static_cast<int64_t>(terms.size());
  if (k < 2 || k * k > kMaxBottleneckPairs) return;
  Voronoi vor;
  ComputeVoronoi(graph, is_terminal, vor, budget);
  // Minimum spanning tree of the terminal distance graph (Mehlhorn: Kruskal
  // over the Voronoi boundary links).
  std::vector<std::tuple<int64_t, int32_t, int32_t>> links;
  for (const Edge& e : edges) {
    VertexId a = vor.base[e.u], b = vor.base[e.v];
    if (a == kNoVertex || b == kNoVertex || a == b) continue;
    links.emplace_back(vor.dist[e.u] + e.cost + vor.dist[e.v], index[a], index[b]);
  }
  std::sort(links.begin(), links.end());
  std::vector<int32_t> uf(k);
  std::iota(uf.begin(), uf.end(), 0);
  auto find = [&](int32_t x) {
    while (uf[x] != x) x = uf[x] = uf[uf[x]];
    return x;
  };
  std::vector<std::vector<std::pair<int32_t, int64_t>>> mst(k);
  for (const auto& [w, a, b] : links) {
    int32_t ra = find(a), rb = find(b);
    if (ra == rb) continue;
    uf[ra] = rb;
    mst[a].emplace_back(b, w);
    mst[b].emplace_back(a, w);
  }
  // Edges grouped by the nearest terminal of their first end.
  std::vector<std::vector<int32_t>> bucket(k);
  for (size_t i = 0; i < edges.size(); ++i) {
    const Edge& e = edges[i];
    if (vor.base[e.u] == kNoVertex || vor.base[e.v] == kNoVertex) continue;
    // Cheap pre-check: the bound is at least the ends' distances.
    if (std::max(vor.dist[e.u], vor.dist[e.v]) >= e.cost) continue;
    bucket[index[vor.base[e.u]]].push_back(static_cast<int32_t>(i));
  }
  std::vector<int64_t> bottleneck(k, kInf);
  std::vector<int32_t> stack;
  int64_t work = static_cast<int64_t>(links.size());
  for (int32_t a = 0; a < k; ++a) {
    if (bucket[a].empty()) continue;
    std::fill(bottleneck.begin(), bottleneck.end(), kInf);
    bottleneck[a] = 0;
    stack.assign(1, a);
    while (!stack.empty()) {
      int32_t x = stack.back();
      stack.pop_back();
      for (const auto& [y, w] : mst[x]) {
        if (bottleneck[y] != kInf) continue;
        bottleneck[y] = std::max(bottleneck[x], w);
        stack.push_back(y);
      }
    }
    work += k;
    for (int32_t i : bucket[a]) {
      const Edge& e = edges[i];
      int64_t bound = std::max({vor.dist[e.u], vor.dist[e.v],
                                bottleneck[index[vor.base[e.v]]]});
      if (bound < e.cost && !dead[i]) {
        dead[i] = 1;
        ++removed;
      }
    }
  }
  if (budget != nullptr) budget->Charge(work);
}

// Special distance through one intermediate vertex.
void TriangleTest(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                  const std::vector<Edge>& edges, const std::vector<std::vector<Arc>>& adj, std::vector<char>& dead,
                  WorkBudget* budget, int64_t& removed) {
  const int32_t n = graph.VertexCount();
  int64_t work = 0;
  for (VertexId v = 0; v < n; ++v) {
    work += static_cast<int64_t>(adj[v].size()) * static_cast<int64_t>(adj[v].size());
  }
  if (work > kMaxTriangleWork) return;
  std::vector<int64_t> cost_to(n, -1);
  std::vector<int32_t> edge_to(n, -1);
  for (VertexId u = 0; u < n; ++u) {
    for (const Arc& a : adj[u]) {
      cost_to[a.to] = edges[a.edge].cost;
      edge_to[a.to] = a.edge;
    }
    for (const Edge& uw : graph.Adjacent(u)) {
      const VertexId w = uw.v;
      for (const Edge& wv : graph.Adjacent(w)) {
        const VertexId v = wv.v;
        if (v == u || cost_to[v] < 0) continue;
        int64_t bound = is_terminal[w] ? std::max(uw.cost, wv.cost) : uw.cost + wv.cost;
        if (bound < cost_to[v] && !dead[edge_to[v]]) {
          dead[edge_to[v]] = 1;
          ++removed;
        }
      }
    }
    for (const Arc& a : adj[u]) cost_to[a.to] = -1;
  }
  if (budget != nullptr) budget->Charge(work);
}

}  // namespace

OverlayGraph ReduceGraph(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                         WorkBudget* budget, ReductionStats* stats) {
  const int32_t n = graph.VertexCount();
  const std::vector<Edge> edges = graph.Edges();
  std::vector<std::vector<Arc>> adj(n);
  for (size_t i = 0; i < edges.size(); ++i) {
    adj[edges[i].u].push_back({edges[i].v, static_cast<int32_t>(i)});
    adj[edges[i].v].push_back({edges[i].u, static_cast<int32_t>(i)});
  }
  std::vector<char> dead(edges.size(), 0);
  ReductionStats local;
  SdTest(graph, is_terminal, edges, dead, budget, local.sd_edges);
  TriangleTest(graph, is_terminal, edges, adj, dead, budget, local.triangle_edges);
  // Non-terminal leaves, repeatedly.
  std::vector<int32_t> degree(n, 0);
  for (size_t i = 0; i < edges.size(); ++i) {
    if (!dead[i]) {
      ++degree[edges[i].u];
      ++degree[edges[i].v];
    }
  }
  std::vector<VertexId> leaves;
  for (VertexId v = 0; v < n; ++v) {
    if (degree[v] == 1 && !is_terminal[v]) leaves.push_back(v);
  }
  while (!leaves.empty()) {
    VertexId v = leaves.back();
    leaves.pop_back();
    if (degree[v] != 1) continue;
    for (const Arc& a : adj[v]) {
      if (dead[a.edge]) continue;
      dead[a.edge] = 1;
      ++local.leaf_edges;
      --degree[v];
      if (--degree[a.to] == 1 && !is_terminal[a.to]) leaves.push_back(a.to);
      break;
    }
  }
  OverlayGraph out;
  for (VertexId v = 0; v < n; ++v) out.AddVertex(graph.Vertex(v));
  for (size_t i = 0; i < edges.size(); ++i) {
    if (!dead[i]) {
      (void)out.AddEdge(edges[i].u, edges[i].v, edges[i].cost, edges[i].capacity_bps);
    }
  }
  if (budget != nullptr) budget->Charge(static_cast<int64_t>(edges.size()));
  if (stats != nullptr) *stats = local;
  return out;
}

}  // namespace canopy::tree::internal
