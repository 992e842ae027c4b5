#include "tree/internal/local_search.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>
#include <tuple>

#include "tree/internal/steiner_core.h"
#include "tree/internal/voronoi.h"

namespace canopy::tree::internal {
namespace {

// The current tree rooted at the anchor, split into key paths (maximal paths
// whose interior vertices are non-terminals of degree two).
struct TreeView {
  std::vector<char> in_tree;
  std::vector<VertexId> parent;
  std::vector<int64_t> parent_cost;
  std::vector<int32_t> depth;
  std::vector<int32_t> degree;
  std::vector<int32_t> path_of;      // key path of edge {v, parent[v]}
  std::vector<int32_t> interior_of;  // key path v is interior to, or -1
  std::vector<VertexId> order;       // BFS order from the anchor
  std::vector<int32_t> child_head, child_next;
  std::vector<int64_t> path_cost;
  int64_t cost = 0;
};

void BuildView(const OverlayGraph& graph, const std::vector<char>& is_terminal,
               VertexId anchor, const std::vector<Edge>& edges, TreeView& t) {
  const int32_t n = graph.VertexCount();
  t.in_tree.assign(n, 0);
  t.parent.assign(n, kNoVertex);
  t.parent_cost.assign(n, 0);
  t.depth.assign(n, 0);
  t.degree.assign(n, 0);
  t.path_of.assign(n, -1);
  t.interior_of.assign(n, -1);
  t.child_head.assign(n, -1);
  t.child_next.assign(n, -1);
  t.order.clear();
  t.path_cost.clear();
  t.cost = 0;
  std::vector<int32_t> head(n, -1), next(2 * edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    const Edge& e = edges[i];
    ++t.degree[e.u];
    ++t.degree[e.v];
    next[2 * i] = head[e.u];
    head[e.u] = static_cast<int32_t>(2 * i);
    next[2 * i + 1] = head[e.v];
    head[e.v] = static_cast<int32_t>(2 * i + 1);
    t.cost += e.cost;
  }
  t.in_tree[anchor] = 1;
  t.order.push_back(anchor);
  for (size_t k = 0; k < t.order.size(); ++k) {
    VertexId v = t.order[k];
    bool v_key = is_terminal[v] || t.degree[v] >= 3;
    if (!v_key) t.interior_of[v] = t.path_of[v];
    for (int32_t slot = head[v]; slot != -1; slot = next[slot]) {
      const Edge& e = edges[slot / 2];
      VertexId w = e.u == v ? e.v : e.u;
      if (t.in_tree[w]) continue;
      t.in_tree[w] = 1;
      t.parent[w] = v;
      t.parent_cost[w] = e.cost;
      t.depth[w] = t.depth[v] + 1;
      t.child_next[w] = t.child_head[v];
      t.child_head[v] = w;
      if (v_key) {
        t.path_of[w] = static_cast<int32_t>(t.path_cost.size());
        t.path_cost.push_back(0);
      } else {
        t.path_of[w] = t.path_of[v];
      }
      t.path_cost[t.path_of[w]] += e.cost;
      t.order.push_back(w);
    }
  }
}

bool IsTreeEdge(const TreeView& t, VertexId x, VertexId y) {
  return t.in_tree[x] && t.in_tree[y] && (t.parent[x] == y || t.parent[y] == x);
}

// Marks the Voronoi path from x back to its base.
void MarkPath(const Voronoi& vor, VertexId x, std::vector<char>& in_set) {
  for (VertexId z = x; z != kNoVertex; z = vor.pred[z]) in_set[z] = 1;
}

bool Rebuild(const OverlayGraph& graph, const std::vector<char>& is_terminal,
             VertexId anchor, std::vector<char>& in_set, int64_t old_cost,
             std::vector<Edge>& edges, WorkBudget* budget) {
  std::vector<Edge> out;
  if (!MstPrune(graph, is_terminal, anchor, in_set, out, budget)) return false;
  int64_t cost = 0;
  for (const Edge& e : out) cost += e.cost;
  if (cost >= old_cost) return false;
  edges = std::move(out);
  return true;
}

// Key-path exchange: replaces one key path by a cheaper connection between
// the two components left when it is removed.
bool KeyPathExchange(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                     VertexId anchor, const TreeView& t, const Voronoi& vor,
                     std::vector<Edge>& edges, WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  const size_t paths = t.path_cost.size();
  if (paths == 0) return false;
  int64_t max_cost = *std::max_element(t.path_cost.begin(), t.path_cost.end());
  struct Best {
    int64_t cost = kInf;
    VertexId x = kNoVertex, y = kNoVertex;
  };
  std::vector<Best> best(paths);
  int64_t steps = 0;
  for (VertexId x = 0; x < n; ++x) {
    VertexId a0 = vor.base[x];
    if (a0 == kNoVertex) continue;
    for (const Edge& e : graph.Adjacent(x)) {
      ++steps;
      VertexId y = e.v;
      if (y < x) continue;
      VertexId b0 = vor.base[y];
      if (b0 == kNoVertex || b0 == a0 || IsTreeEdge(t, x, y)) continue;
      int64_t c = vor.dist[x] + e.cost + vor.dist[y];
      if (c >= max_cost) continue;
      VertexId a = a0, b = b0;
      while (a != b) {
        ++steps;
        if (t.depth[a] < t.depth[b]) std::swap(a, b);
        int32_t p = t.path_of[a];
        if (c < best[p].cost && t.interior_of[a0] != p && t.interior_of[b0] != p) {
          best[p] = Best{c, x, y};
        }
        a = t.parent[a];
      }
    }
  }
  if (budget != nullptr) budget->Charge(steps);
  int64_t best_gain = 0;
  int32_t best_path = -1;
  for (size_t p = 0; p < paths; ++p) {
    int64_t gain = t.path_cost[p] - best[p].cost;
    if (gain > best_gain) {
      best_gain = gain;
      best_path = static_cast<int32_t>(p);
    }
  }
  if (best_path < 0) return false;
  std::vector<char> in_set(t.in_tree);
  for (VertexId v : t.order) {
    if (t.interior_of[v] == best_path) in_set[v] = 0;
  }
  MarkPath(vor, best[best_path].x, in_set);
  MarkPath(vor, best[best_path].y, in_set);
  return Rebuild(graph, is_terminal, anchor, in_set, t.cost, edges, budget);
}

// Key-vertex elimination: removes a Steiner vertex of degree >= 3 with its
// key paths and reconnects the pieces by a minimum spanning tree of
// Voronoi-boundary paths.
bool KeyVertexElimination(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                          VertexId anchor, const TreeView& t, const Voronoi& vor,
                          std::vector<Edge>& edges, WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  std::vector<VertexId> keys;
  for (VertexId v : t.order) {
    if (!is_terminal[v] && t.degree[v] >= 3) keys.push_back(v);
  }
  if (keys.empty()) return false;
  struct Link {
    int64_t cost;
    VertexId x, y;
  };
  // A reconnection only helps if it costs less than the removed key paths,
  // so links at least as expensive as the largest removal are useless.
  int64_t max_removed = 0;
  for (VertexId v : keys) {
    int64_t removed = t.parent[v] != kNoVertex ? t.path_cost[t.path_of[v]] : 0;
    for (VertexId c = t.child_head[v]; c != -1; c = t.child_next[c]) {
      removed += t.path_cost[t.path_of[c]];
    }
    max_removed = std::max(max_removed, removed);
  }
  std::vector<Link> links;
  int64_t steps = 0;
  for (VertexId x = 0; x < n; ++x) {
    if (vor.base[x] == kNoVertex) continue;
    for (const Edge& e : graph.Adjacent(x)) {
      ++steps;
      if (e.v < x || vor.base[e.v] == kNoVertex || vor.base[e.v] == vor.base[x] ||
          IsTreeEdge(t, x, e.v)) {
        continue;
      }
      int64_t c = vor.dist[x] + e.cost + vor.dist[e.v];
      if (c < max_removed) links.push_back({c, x, e.v});
    }
  }
  std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) {
    return std::tie(a.cost, a.x, a.y) < std::tie(b.cost, b.x, b.y);
  });
  std::vector<int32_t> comp(n, -1);
  std::vector<VertexId> stack, touched, ends;
  std::vector<int32_t> uf;
  std::vector<const Link*> used;
  // Labels the components around key vertex v; returns removed cost.
  auto label = [&](VertexId v) {
    for (VertexId u : touched) comp[u] = -1;
    touched.clear();
    ends.clear();
    int64_t removed = 0;
    std::vector<int32_t> incident;
    if (t.parent[v] != kNoVertex) incident.push_back(t.path_of[v]);
    for (VertexId c = t.child_head[v]; c != -1; c = t.child_next[c]) {
      incident.push_back(t.path_of[c]);
    }
    auto is_removed = [&](VertexId u) {
      if (u == v) return true;
      int32_t p = t.interior_of[u];
      return p >= 0 && std::find(incident.begin(), incident.end(), p) != incident.end();
    };
    for (int32_t p : incident) removed += t.path_cost[p];
    // Far ends: walk each incident path away from v.
    auto walk = [&](VertexId start, bool up) {
      VertexId u = start;
      if (up) {
        while (is_removed(u)) u = t.parent[u];
      } else {
        while (is_removed(u)) u = t.child_head[u];
      }
      return u;
    };
    if (t.parent[v] != kNoVertex) ends.push_back(walk(t.parent[v], true));
    for (VertexId c = t.child_head[v]; c != -1; c = t.child_next[c]) {
      ends.push_back(walk(c, false));
    }
    for (size_t i = 0; i < ends.size(); ++i) {
      stack.assign(1, ends[i]);
      comp[ends[i]] = static_cast<int32_t>(i);
      touched.push_back(ends[i]);
      while (!stack.empty()) {
        VertexId u = stack.back();
        stack.pop_back();
        ++steps;
        auto visit = [&](VertexId w) {
          if (w == kNoVertex || comp[w] != -1 || is_removed(w)) return;
          comp[w] = static_cast<int32_t>(i);
          touched.push_back(w);
          stack.push_back(w);
        };
        visit(t.parent[u]);
        for (VertexId c = t.child_head[u]; c != -1; c = t.child_next[c]) visit(c);
      }
    }
    return removed;
  };
  // Kruskal over the components; returns connection cost or kInf.
  auto reconnect = [&](int64_t limit) {
    uf.resize(ends.size());
    for (size_t i = 0; i < uf.size(); ++i) uf[i] = static_cast<int32_t>(i);
    auto find = [&](int32_t a) {
      while (uf[a] != a) a = uf[a] = uf[uf[a]];
      return a;
    };
    used.clear();
    int64_t total = 0;
    size_t unions = 0;
    for (const Link& l : links) {
      ++steps;
      if (total + l.cost >= limit) return kInf;
      int32_t ca = comp[vor.base[l.x]], cb = comp[vor.base[l.y]];
      if (ca < 0 || cb < 0) continue;
      ca = find(ca);
      cb = find(cb);
      if (ca == cb) continue;
      uf[ca] = cb;
      total += l.cost;
      used.push_back(&l);
      if (++unions + 1 == ends.size()) return total;
    }
    return kInf;
  };
  int64_t best_gain = 0;
  VertexId best_vertex = kNoVertex;
  for (VertexId v : keys) {
    int64_t removed = label(v);
    int64_t total = reconnect(removed);
    if (total < removed && removed - total > best_gain) {
      best_gain = removed - total;
      best_vertex = v;
    }
  }
  if (budget != nullptr) budget->Charge(steps);
  if (best_vertex == kNoVertex) return false;
  int64_t removed = label(best_vertex);
  reconnect(removed);
  std::vector<char> in_set(n, 0);
  for (VertexId u : touched) in_set[u] = 1;
  for (const Link* l : used) {
    MarkPath(vor, l->x, in_set);
    MarkPath(vor, l->y, in_set);
  }
  return Rebuild(graph, is_terminal, anchor, in_set, t.cost, edges, budget);
}

// Vertex insertion: adds the non-tree vertex whose insertion lowers the MST
// of the tree's vertices the most.
bool VertexInsertion(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                     VertexId anchor, const TreeView& t, std::vector<Edge>& edges,
                     WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  std::vector<Edge> sorted(edges);
  std::sort(sorted.begin(), sorted.end(), [](const Edge& a, const Edge& b) {
    return std::tie(a.cost, a.u, a.v) < std::tie(b.cost, b.u, b.v);
  });
  std::vector<VertexId> uf(n);
  auto find = [&](VertexId a) {
    while (uf[a] != a) a = uf[a] = uf[uf[a]];
    return a;
  };
  std::vector<Edge> mine;
  int64_t steps = 0;
  int64_t best_gain = 0;
  VertexId best_vertex = kNoVertex;
  const size_t k = t.order.size();
  for (VertexId u = 0; u < n; ++u) {
    if (t.in_tree[u]) continue;
    mine.clear();
    for (const Edge& e : graph.Adjacent(u)) {
      if (t.in_tree[e.v]) mine.push_back(e);
    }
    steps += static_cast<int64_t>(graph.Adjacent(u).size());
    if (mine.size() < 2) continue;
    std::sort(mine.begin(), mine.end(), [](const Edge& a, const Edge& b) {
      return std::tie(a.cost, a.v) < std::tie(b.cost, b.v);
    });
    // Every edge after the first replaces at most the tree's most expensive
    // edge, so without a second edge cheaper than that there is no gain.
    if (mine[1].cost >= sorted.back().cost) continue;
    for (VertexId v : t.order) uf[v] = v;
    uf[u] = u;
    int64_t total = 0;
    size_t chosen = 0, i = 0, j = 0;
    while (chosen < k && (i < sorted.size() || j < mine.size())) {
      ++steps;
      const Edge* e;
      if (j >= mine.size() || (i < sorted.size() && sorted[i].cost <= mine[j].cost)) {
        e = &sorted[i++];
      } else {
        e = &mine[j++];
      }
      VertexId a = find(e->u), b = find(e->v);
      if (a == b) continue;
      uf[a] = b;
      total += e->cost;
      ++chosen;
      if (total >= t.cost) break;
    }
    if (chosen == k && t.cost - total > best_gain) {
      best_gain = t.cost - total;
      best_vertex = u;
    }
  }
  if (budget != nullptr) budget->Charge(steps);
  if (best_vertex == kNoVertex) return false;
  std::vector<char> in_set(t.in_tree);
  in_set[best_vertex] = 1;
  return Rebuild(graph, is_terminal, anchor, in_set, t.cost, edges, budget);
}

// Exact key-path exchange: for each key path (most expensive first) searches
// the true cheapest reconnection between the two pieces, with the path's
// interior vertices free again, by a Dijkstra from the smaller piece bounded
// by the path's cost. Applies the first improvement found.
bool ExactKeyPathExchange(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                          VertexId anchor, const TreeView& t, std::vector<Edge>& edges,
                          WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  const int32_t paths = static_cast<int32_t>(t.path_cost.size());
  std::vector<VertexId> bottom(paths, kNoVertex);
  for (VertexId v : t.order) {
    if (t.path_of[v] >= 0 && t.interior_of[v] < 0) bottom[t.path_of[v]] = v;
  }
  std::vector<int32_t> by_cost(paths);
  for (int32_t p = 0; p < paths; ++p) by_cost[p] = p;
  std::sort(by_cost.begin(), by_cost.end(), [&](int32_t a, int32_t b) {
    return std::tie(t.path_cost[b], a) < std::tie(t.path_cost[a], b);
  });
  std::vector<char> side(n, 0);  // 1 = source piece, 2 = target piece
  std::vector<int64_t> dist(n, kInf);
  std::vector<VertexId> pred(n, kNoVertex);
  std::vector<VertexId> touched, stack, below;
  using Item = std::pair<int64_t, VertexId>;
  const int32_t k = static_cast<int32_t>(t.order.size());
  for (int32_t p : by_cost) {
    if (budget != nullptr && budget->Exhausted()) return false;
    const int64_t limit = t.path_cost[p];
    if (limit <= 0) break;
    // The piece below the path.
    below.clear();
    stack.assign(1, bottom[p]);
    while (!stack.empty()) {
      VertexId v = stack.back();
      stack.pop_back();
      below.push_back(v);
      for (VertexId c = t.child_head[v]; c != -1; c = t.child_next[c]) stack.push_back(c);
    }
    int64_t steps = static_cast<int64_t>(below.size());
    const bool below_is_source = 2 * static_cast<int32_t>(below.size()) <= k;
    for (VertexId v : t.order) {
      if (t.interior_of[v] != p) side[v] = below_is_source ? 2 : 1;
    }
    for (VertexId v : below) side[v] = below_is_source ? 1 : 2;
    // Kept by hand rather than on ShortestPaths: one small bounded search per
    // key path (about 11,000 per SteinerSearch on 10,000 vertices, most
    // settling under 1,000), and each call of Boost's Dijkstra allocates and
    // zero-fills a heap-index array over the whole graph (80 KB here, more
    // than L1 holds) and keeps an indirect 4-ary heap, where this lazy heap
    // of (distance, vertex) pairs reuses its labels. Moved onto it, with the
    // same trees: bench-tree-graphs SteinerSearch n = 10000, same runs,
    // median CPU 2191 -> 2257 ms and 2050 -> 2274 ms; under callgrind 9.8 %
    // more instructions and 28 % more L1 write misses in the whole search.
    std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
    for (VertexId v : t.order) {
      if (side[v] == 1) {
        dist[v] = 0;
        touched.push_back(v);
        heap.emplace(0, v);
      }
    }
    VertexId hit = kNoVertex;
    while (!heap.empty()) {
      auto [d, v] = heap.top();
      heap.pop();
      if (d > dist[v]) continue;
      if (side[v] == 2) {
        hit = v;
        break;
      }
      for (const Edge& e : graph.Adjacent(v)) {
        ++steps;
        if (side[e.v] == 1) continue;
        int64_t nd = d + e.cost;
        if (nd >= limit || nd >= dist[e.v]) continue;
        if (dist[e.v] == kInf) touched.push_back(e.v);
        dist[e.v] = nd;
        pred[e.v] = v;
        heap.emplace(nd, e.v);
      }
    }
    if (budget != nullptr) budget->Charge(steps + k);
    if (hit != kNoVertex) {
      std::vector<char> in_set(t.in_tree);
      for (VertexId v : t.order) {
        if (t.interior_of[v] == p) in_set[v] = 0;
      }
      for (VertexId z = hit; z != kNoVertex; z = pred[z]) in_set[z] = 1;
      if (Rebuild(graph, is_terminal, anchor, in_set, t.cost, edges, budget)) return true;
    }
    for (VertexId v : touched) {
      dist[v] = kInf;
      pred[v] = kNoVertex;
    }
    touched.clear();
    for (VertexId v : t.order) side[v] = 0;
  }
  return false;
}

}  // namespace

void LocalSearch(const OverlayGraph& graph, const std::vector<char>& is_terminal,
                 VertexId anchor, std::vector<Edge>& edges, WorkBudget* budget) {
  TreeView view;
  Voronoi vor;
  while (budget == nullptr || !budget->Exhausted()) {
    BuildView(graph, is_terminal, anchor, edges, view);
    ComputeVoronoi(graph, view.in_tree, vor, budget);
    if (KeyPathExchange(graph, is_terminal, anchor, view, vor, edges, budget)) continue;
    if (KeyVertexElimination(graph, is_terminal, anchor, view, vor, edges, budget)) continue;
    if (VertexInsertion(graph, is_terminal, anchor, view, edges, budget)) continue;
    if (ExactKeyPathExchange(graph, is_terminal, anchor, view, edges, budget)) continue;
    break;
  }
}

}  // namespace canopy::tree::internal
