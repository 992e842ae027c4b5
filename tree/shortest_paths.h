#ifndef CANOPY_TREE_SHORTEST_PATHS_H_
#define CANOPY_TREE_SHORTEST_PATHS_H_

// The one shortest-path search of tree/: Boost.Graph's Dijkstra on an
// OverlayGraph, from several seeded sources, with edge filters, a distance
// bound, target vertices that end the search and a work budget. Every
// Dijkstra in tree/ calls it, but for two that say in a comment why not
// (internal/sph.cc, the exact key-path exchange in internal/local_search.cc).
// Prim's minimum spanning tree, which Boost.Graph runs as its Dijkstra with
// another label combination, is here too (SpanningTree), on the same keys and
// tie rules.

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "boost/graph/dijkstra_shortest_paths_no_color_map.hpp"
#include "boost/graph/graph_traits.hpp"
#include "boost/iterator/counting_iterator.hpp"
#include "boost/property_map/property_map.hpp"
#include "tree/overlay_graph.h"
#include "tree/overlay_graph_boost.h"
#include "tree/work_budget.h"

namespace canopy::tree {

// Distance of a vertex no search has reached.
inline constexpr int64_t kUnreachable = std::numeric_limits<int64_t>::max() / 4;

// Labels of shortest-path searches on one graph: distance and predecessor per
// vertex. Reusable: Reset() clears only what the searches since the last
// Reset() touched (Boost's Dijkstra still zero-fills a heap-index array of
// VertexCount() + 1 entries per search). Thread-compatible.
class PathLabels {
 public:
  // Labels for a graph of `vertex_count` vertices, all unreached.
  explicit PathLabels(int32_t vertex_count)
      : vertex_count_(vertex_count),
        dist_(vertex_count + 1, kUnreachable),
        pred_(vertex_count + 1, kNoVertex) {}

  // Distance from the nearest source (plus its start label), or kUnreachable.
  int64_t Dist(VertexId v) const { return dist_[v]; }
  // Predecessor on the shortest path, kNoVertex for sources and unreached
  // vertices. Among equally short paths the predecessor u with the smallest
  // (Dist(u), u) wins (or the smallest u, see SearchLimits), so results do
  // not depend on heap order.
  VertexId Pred(VertexId v) const { return pred_[v]; }
  // All distances / predecessors, indexed by vertex.
  absl::Span<const int64_t> Dists() const { return {dist_.data(), Size()}; }
  absl::Span<const VertexId> Preds() const { return {pred_.data(), Size()}; }

  // Gives source v the start label `dist` (0 for a plain search). REQUIRES:
  // v untouched since the last Reset().
  void Seed(VertexId v, int64_t dist) {
    dist_[v] = dist;
    touched_.push_back(v);
  }

  // Restores every touched vertex to unreached. O(touched vertices).
  void Reset() {
    for (VertexId v : touched_) {
      dist_[v] = kUnreachable;
      pred_[v] = kNoVertex;
    }
    touched_.clear();
  }

 private:
  template <typename EdgeFilter, typename IsTarget>
  friend class PathSearch;

  size_t Size() const { return static_cast<size_t>(vertex_count_); }

  int32_t vertex_count_;
  // One more entry than vertices: the search's root (see PathSearch).
  std::vector<int64_t> dist_;
  std::vector<VertexId> pred_;
  std::vector<VertexId> touched_;
};

// Limits of one search.
struct SearchLimits {
  // Paths of length >= bound are not followed (their ends stay unreached).
  int64_t bound = kUnreachable;
  // If not null, charged one unit per edge scanned from every settled
  // non-target vertex (targets are not expanded).
  WorkBudget* budget = nullptr;
  // Stop as soon as `budget` is exhausted (checked before each vertex is
  // settled).
  bool stop_when_spent = false;
  // Among equally short paths take the predecessor with the lowest id,
  // instead of the smallest (distance, id).
  bool ties_to_lower_id = false;
};

// What ended a search.
struct SearchOutcome {
  // The target settled first: the lowest id among the nearest targets.
  // kNoVertex if no target was reached.
  VertexId target = kNoVertex;
  // True if the search stopped because the budget was spent.
  bool budget_spent = false;
};

// Accepts every edge.
struct AllEdges {
  bool operator()(const Edge&) const { return true; }
};
// No vertex is a target: the search settles everything reachable.
struct NoTargets {
  bool operator()(VertexId) const { return false; }
};

// Multi-source Dijkstra over the edges e (directed e.u → e.v) for which
// `allow(e)` is true, from the seeded `sources`, until the nearest vertex with
// `is_target(v)` is settled or nothing reachable within the bound is left.
//
// Vertices are settled in increasing (distance, id) order, exactly as a heap
// of (distance, vertex) pairs pops them (also with zero-cost edges): the
// first target settled is the lowest id among the nearest, the budget is
// charged for exactly the vertices settled before it, and a vertex's
// predecessor is the first settled vertex that reached it by a shortest path,
// i.e. the smallest (Dist(u), u). `is_target(v)` is called once per settled
// vertex, in that order, when v's labels are final (a hook for labels derived
// along the paths, e.g. each vertex's source). Labels of the search end up in
// `labels`; a source keeps its seed unless a strictly shorter path reaches
// it, and a source seeded at or beyond the bound stays unreached.
//
// REQUIRES: every source seeded with labels.Seed() and every other vertex
// untouched since labels.Reset(); edge costs >= 0.
template <typename EdgeFilter = AllEdges, typename IsTarget = NoTargets>
SearchOutcome ShortestPaths(const OverlayGraph& graph, absl::Span<const VertexId> sources,
                            const SearchLimits& limits, PathLabels& labels, EdgeFilter allow = {},
                            IsTarget is_target = {});

// Prim's minimum spanning tree of the component of `start` in the subgraph
// induced by the vertices with in_set(v): appends one edge {parent, v, cost}
// per vertex joined, in the order joined, to `out`. The next vertex to join
// is the one with the smallest (cost of its cheapest link to the tree, id),
// and it hangs under the lowest-id tree vertex offering that cost, so the
// tree does not depend on heap order. If `budget` is not null, charges one
// unit per edge scanned from every vertex joined.
// REQUIRES: in_set(start); edge costs >= 0.
template <typename VertexFilter>
void SpanningTree(const OverlayGraph& graph, VertexId start, VertexFilter in_set,
                  WorkBudget* budget, std::vector<Edge>& out);

// ---------------------------------------------------------------------------
// Implementation.

namespace search_internal {

// Heap key of a vertex: its label, then its id. Boost's Dijkstra orders its
// heap by the distance map's values; with these keys it settles vertices in
// (label, id) order whatever the heap's internal layout, exactly as a heap of
// (label, vertex) pairs pops them.
struct Key {
  int64_t dist;
  VertexId v;
};
struct KeyLess {
  bool operator()(const Key& a, const Key& b) const {
    return a.dist < b.dist || (a.dist == b.dist && a.v < b.v);
  }
  // Boost's negative-edge check compares a weight with the zero key.
  bool operator()(int64_t weight, const Key& zero) const { return weight < zero.dist; }
};
// Id of every key a relaxation proposes: above every vertex's, so only a
// strictly smaller label relaxes.
inline constexpr VertexId kProposedId = std::numeric_limits<VertexId>::max();
// Key of unreached vertices' labels: every (kUnreachable, v) is not below it.
inline constexpr Key kInfinityKey{kUnreachable, kNoVertex};
// Labels seen as keys. A key written back stores only its label.
struct KeyMap {
  using key_type = VertexId;
  using value_type = Key;
  using reference = Key;
  using category = boost::read_write_property_map_tag;
  int64_t* dist;
  friend Key get(const KeyMap& m, VertexId v) { return Key{m.dist[v], v}; }
  friend void put(const KeyMap& m, VertexId v, const Key& k) { m.dist[v] = k.dist; }
};

}  // namespace search_internal

// The graph a search runs on: the OverlayGraph plus one extra vertex, the
// root (id = VertexCount()), with an edge to every source costing the
// source's seed. Boost's Dijkstra then starts from the root alone, and only
// vertices whose label an edge improves enter its heap. Not for direct use.
struct RootedSearchGraph {
  const OverlayGraph* graph;
  VertexId root;
  std::vector<Edge> root_edges;
};

}  // namespace canopy::tree

namespace boost {

template <>
struct graph_traits<canopy::tree::RootedSearchGraph> : graph_traits<canopy::tree::OverlayGraph> {};

}  // namespace boost

namespace canopy::tree {

inline VertexId source(const Edge& e, const RootedSearchGraph&) { return e.u; }
inline VertexId target(const Edge& e, const RootedSearchGraph&) { return e.v; }
inline std::pair<std::vector<Edge>::const_iterator, std::vector<Edge>::const_iterator> out_edges(
    VertexId v, const RootedSearchGraph& g) {
  const std::vector<Edge>& adj = v == g.root ? g.root_edges : g.graph->Adjacent(v);
  return {adj.begin(), adj.end()};
}
inline std::size_t out_degree(VertexId v, const RootedSearchGraph& g) {
  return out_edges(v, g).second - out_edges(v, g).first;
}
inline std::pair<boost::counting_iterator<VertexId>, boost::counting_iterator<VertexId>> vertices(
    const RootedSearchGraph& g) {
  return {boost::counting_iterator<VertexId>(0), boost::counting_iterator<VertexId>(g.root + 1)};
}
inline std::size_t num_vertices(const RootedSearchGraph& g) {
  return static_cast<std::size_t>(g.root) + 1;
}

// One run of ShortestPaths; not for direct use. Distances are keyed by
// (distance, id) (search_internal::Key), so ties need no repair afterwards.
template <typename EdgeFilter, typename IsTarget>
class PathSearch {
 public:
  PathSearch(const OverlayGraph& graph, const SearchLimits& limits, PathLabels& labels,
             EdgeFilter allow, IsTarget is_target)
      : graph_{&graph, graph.VertexCount(), {}},
        limits_(limits),
        labels_(labels),
        allow_(allow),
        is_target_(is_target) {}

  SearchOutcome Run(absl::Span<const VertexId> sources) {
    const VertexId root = graph_.root;
    graph_.root_edges.reserve(sources.size());
    for (VertexId s : sources) {
      graph_.root_edges.push_back(Edge{root, s, labels_.dist_[s], 0});
      labels_.dist_[s] = kUnreachable;  // the root's edge brings the seed back
    }
    labels_.dist_[root] = 0;
    labels_.pred_[root] = kNoVertex;
    boost::dijkstra_shortest_paths_no_color_map_no_init(
        graph_, root, PredMap{labels_.pred_.data(), root}, KeyMap{labels_.dist_.data()},
        Weight{&allow_, root}, boost::typed_identity_property_map<VertexId>(), KeyLess{},
        Combine{limits_.bound}, search_internal::kInfinityKey, Key{0, 0}, Visitor{this});
    if (stopped_at_ != kNoVertex) labels_.dist_[stopped_at_] = stopped_dist_;
    return outcome_;
  }

 private:
  using Key = search_internal::Key;
  using KeyLess = search_internal::KeyLess;
  using KeyMap = search_internal::KeyMap;

  // Predecessors; sources (reached from the root) get kNoVertex.
  struct PredMap {
    using key_type = VertexId;
    using value_type = VertexId;
    using reference = VertexId;
    using category = boost::writable_property_map_tag;
    VertexId* pred;
    VertexId root;
    friend void put(const PredMap& m, VertexId v, VertexId u) {
      m.pred[v] = u == m.root ? kNoVertex : u;
    }
  };
  // Edge cost, or kUnreachable for a filtered edge. The root's edges (the
  // seeds) are never filtered.
  struct Weight {
    using key_type = Edge;
    using value_type = int64_t;
    using reference = int64_t;
    using category = boost::readable_property_map_tag;
    const EdgeFilter* allow;
    VertexId root;
    friend int64_t get(const Weight& w, const Edge& e) {
      return e.u == w.root || (*w.allow)(e) ? e.cost : kUnreachable;
    }
  };
  // Key of a path: its length, kUnreachable at or beyond the bound.
  struct Combine {
    int64_t bound;
    Key operator()(const Key& d, int64_t w) const {
      const int64_t sum = d.dist + w;  // both <= kUnreachable: no overflow
      return Key{sum >= bound ? kUnreachable : sum, search_internal::kProposedId};
    }
  };

  struct Visitor : boost::default_dijkstra_visitor {
    PathSearch* search;
    explicit Visitor(PathSearch* s) : search(s) {}
    void discover_vertex(VertexId v, const RootedSearchGraph&) const {
      search->labels_.touched_.push_back(v);
    }
    void examine_vertex(VertexId v, const RootedSearchGraph&) const { search->Examine(v); }
    void edge_not_relaxed(const Edge& e, const RootedSearchGraph&) const {
      if (search->limits_.ties_to_lower_id) search->TieToLowerId(e);
    }
  };

  // Called once per settled vertex, in increasing (distance, id) order.
  void Examine(VertexId v) {
    if (v == graph_.root) return;
    if (limits_.stop_when_spent && limits_.budget != nullptr && limits_.budget->Exhausted()) {
      outcome_.budget_spent = true;
      Stop(v);
    } else if (is_target_(v)) {
      outcome_.target = v;
      Stop(v);
    } else if (limits_.budget != nullptr) {
      limits_.budget->Charge(static_cast<int64_t>(graph_.graph->Adjacent(v).size()));
    }
  }

  // Ends the search at v, before its edges are scanned: right after
  // examine_vertex Boost's Dijkstra returns if the vertex it examines is at
  // infinity, so v's label goes there until Run() restores it. (Cheaper than
  // throwing out of the search, which small searches would pay for each.)
  void Stop(VertexId v) {
    stopped_at_ = v;
    stopped_dist_ = labels_.dist_[v];
    labels_.dist_[v] = kUnreachable;
  }

  // An edge that did not shorten e.v's path but matches it takes over as
  // predecessor if its tail has a lower id.
  void TieToLowerId(const Edge& e) {
    // Most edges end at a vertex with a shorter path (settled ones among
    // them, which no colour map screens out here): rule those out first.
    if (e.cost <= 0 || labels_.dist_[e.u] + e.cost != labels_.dist_[e.v]) return;
    VertexId& p = labels_.pred_[e.v];
    if (p != kNoVertex && e.u < p && allow_(e)) p = e.u;
  }

  RootedSearchGraph graph_;
  const SearchLimits& limits_;
  PathLabels& labels_;
  EdgeFilter allow_;
  IsTarget is_target_;
  SearchOutcome outcome_;
  VertexId stopped_at_ = kNoVertex;
  int64_t stopped_dist_ = 0;
};

template <typename EdgeFilter, typename IsTarget>
SearchOutcome ShortestPaths(const OverlayGraph& graph, absl::Span<const VertexId> sources,
                            const SearchLimits& limits, PathLabels& labels, EdgeFilter allow,
                            IsTarget is_target) {
  return PathSearch<EdgeFilter, IsTarget>(graph, limits, labels, allow, is_target).Run(sources);
}

// One run of SpanningTree; not for direct use. Prim's algorithm is Boost's
// Dijkstra with the edge's own cost as the label it proposes (what
// boost::prim_minimum_spanning_tree passes as the combine function), run here
// without the colour map: settled vertices are kept out of relaxations by the
// weight map instead, and only vertices a link reaches enter the heap.
// boost::prim_minimum_spanning_tree itself is not used: its std::less on the
// bare costs leaves ties to the heap's layout, and it initialises every
// vertex of the graph per call.
template <typename VertexFilter>
class SpanningSearch {
 public:
  SpanningSearch(const OverlayGraph& graph, VertexFilter in_set, WorkBudget* budget,
                 std::vector<Edge>& out)
      : graph_(graph),
        in_set_(in_set),
        budget_(budget),
        out_(out),
        cost_(graph.VertexCount(), kUnreachable),
        parent_(graph.VertexCount(), kNoVertex),
        joined_(graph.VertexCount(), 0) {}

  void Run(VertexId start) {
    cost_[start] = 0;
    boost::dijkstra_shortest_paths_no_color_map_no_init(
        graph_, start, parent_.data(), KeyMap{cost_.data()}, Weight{this},
        boost::typed_identity_property_map<VertexId>(), search_internal::KeyLess{}, Second{},
        search_internal::kInfinityKey, Key{0, 0}, Visitor{this});
  }

 private:
  using Key = search_internal::Key;
  using KeyMap = search_internal::KeyMap;

  // Link cost into a vertex that may still join, else kUnreachable.
  struct Weight {
    using key_type = Edge;
    using value_type = int64_t;
    using reference = int64_t;
    using category = boost::readable_property_map_tag;
    const SpanningSearch* search;
    int64_t operator()(const Edge& e) const {
      return !search->joined_[e.v] && search->in_set_(e.v) ? e.cost : kUnreachable;
    }
    friend int64_t get(const Weight& w, const Edge& e) { return w(e); }
  };
  // A vertex's label is the cost of its cheapest link to the tree.
  struct Second {
    Key operator()(const Key&, int64_t w) const { return Key{w, search_internal::kProposedId}; }
  };
  struct Visitor : boost::default_dijkstra_visitor {
    SpanningSearch* search;
    explicit Visitor(SpanningSearch* s) : search(s) {}
    void examine_vertex(VertexId v, const OverlayGraph&) const { search->Join(v); }
    void edge_not_relaxed(const Edge& e, const OverlayGraph&) const { search->TieToLowerId(e); }
  };

  void Join(VertexId v) {
    joined_[v] = 1;
    if (parent_[v] != kNoVertex) out_.push_back(Edge{parent_[v], v, cost_[v], 0});
    if (budget_ != nullptr) budget_->Charge(static_cast<int64_t>(graph_.Adjacent(v).size()));
  }

  // A link as cheap as a waiting vertex's label takes over if its tree end
  // has a lower id.
  void TieToLowerId(const Edge& e) {
    if (e.u < parent_[e.v] && e.cost == cost_[e.v] && !joined_[e.v] && in_set_(e.v)) {
      parent_[e.v] = e.u;
    }
  }

  const OverlayGraph& graph_;
  VertexFilter in_set_;
  WorkBudget* budget_;
  std::vector<Edge>& out_;
  std::vector<int64_t> cost_;
  std::vector<VertexId> parent_;
  std::vector<char> joined_;
};

template <typename VertexFilter>
void SpanningTree(const OverlayGraph& graph, VertexId start, VertexFilter in_set,
                  WorkBudget* budget, std::vector<Edge>& out) {
  SpanningSearch<VertexFilter>(graph, in_set, budget, out).Run(start);
}

}  // namespace canopy::tree

#endif  // CANOPY_TREE_SHORTEST_PATHS_H_
