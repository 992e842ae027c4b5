#include "tree/internal/sph.h"

#include <functional>
#include <queue>
#include <utility>

#include "tree/internal/steiner_core.h"

namespace canopy::tree::internal {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

std::vector<char> ShortestPathHeuristic(const OverlayGraph& graph,
                                        const std::vector<char>& is_terminal,
                                        VertexId root, uint64_t noise_seed,
                                        int32_t noise_percent, WorkBudget* budget,
                                        const std::vector<char>* avoid,
                                        int32_t avoid_percent) {
  const int32_t n = graph.VertexCount();
  std::vector<int64_t> dist(n, kInf);
  std::vector<VertexId> pred(n, kNoVertex);
  std::vector<char> in_tree(n, 0);
  int32_t remaining = 0;
  for (VertexId v = 0; v < n; ++v) remaining += is_terminal[v] ? 1 : 0;
  // Kept by hand rather than on ShortestPaths: each attached path re-enters
  // the running search as new sources at distance 0, so settled vertices are
  // reopened and every other label carries over from the rounds before.
  // Boost's Dijkstra cannot reopen a settled vertex (its heap only lowers
  // keys of vertices still queued). One ShortestPaths per terminal instead
  // would rescan everything reached so far, up to once per terminal, and
  // charge that to the budget, and would break equal-length ties afresh
  // rather than keep earlier rounds' predecessors: both change the trees.
  using Item = std::pair<int64_t, VertexId>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  in_tree[root] = 1;
  dist[root] = 0;
  heap.emplace(0, root);
  if (is_terminal[root]) --remaining;
  const uint64_t scale = 1000;
  int64_t scanned = 0;
  while (remaining > 0 && !heap.empty()) {
    auto [d, v] = heap.top();
    heap.pop();
    if (d > dist[v]) continue;
    if (is_terminal[v] && !in_tree[v]) {
      for (VertexId x = v; !in_tree[x]; x = pred[x]) {
        in_tree[x] = 1;
        dist[x] = 0;
        heap.emplace(0, x);
      }
      --remaining;
      continue;
    }
    for (const Edge& e : graph.Adjacent(v)) {
      ++scanned;
      int64_t w = e.cost;
      if (noise_seed != 0) {
        uint64_t a = static_cast<uint64_t>(std::min(v, e.v));
        uint64_t b = static_cast<uint64_t>(std::max(v, e.v));
        uint64_t h = Mix(noise_seed ^ Mix(a * 0x9e3779b97f4a7c15ULL + b));
        w = static_cast<int64_t>(static_cast<uint64_t>(e.cost) *
                                 (scale + h % (scale * noise_percent / 100 + 1)));
      } else {
        w *= scale;
      }
      if (avoid != nullptr && (*avoid)[v] && (*avoid)[e.v]) {
        w += e.cost * static_cast<int64_t>(scale) * avoid_percent / 100;
      }
      int64_t nd = d + w;
      if (nd < dist[e.v]) {
        dist[e.v] = nd;
        pred[e.v] = v;
        heap.emplace(nd, e.v);
      }
    }
  }
  if (budget != nullptr) budget->Charge(scanned);
  return in_tree;
}

}  // namespace canopy::tree::internal
