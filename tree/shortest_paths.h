#ifndef CANOPY_TREE_SHORTEST_PATHS_H_
#define CANOPY_TREE_SHORTEST_PATHS_H_

// The one shortest-path search of tree/: Boost.Graph's Dijkstra on an
// OverlayGraph, with edge filters, a distance bound, target vertices that end
// the search and a work budget. Every Dijkstra in tree/ calls it.

#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/types/span.h"
#include "boost/graph/dijkstra_shortest_paths.hpp"
#include "boost/property_map/property_map.hpp"
#include "tree/overlay_graph.h"
#include "tree/overlay_graph_boost.h"
#include "tree/work_budget.h"

namespace canopy::tree {

// Distance of a vertex no search has reached.
inline constexpr int64_t kUnreachable = std::numeric_limits<int64_t>::max() / 4;

// Labels of shortest-path searches on one graph: distance and predecessor per
// vertex. Reusable: Reset() clears only what the searches since the last
// Reset() touched, so many small searches on a large graph stay cheap.
// Thread-compatible.
class PathLabels {
 public:
  // Labels for a graph of `vertex_count` vertices, all unreached.
  explicit PathLabels(int32_t vertex_count)
      : dist_(vertex_count, kUnreachable),
        pred_(vertex_count, kNoVertex),
        color_(vertex_count, boost::white_color) {}

  // Distance from the nearest source (plus its start label), or kUnreachable.
  int64_t Dist(VertexId v) const { return dist_[v]; }
  // Predecessor on the shortest path, kNoVertex for sources and unreached
  // vertices. Among equally short paths the predecessor u with the smallest
  // (Dist(u), u) wins (or the smallest u, see SearchLimits), so results do
  // not depend on heap order.
  VertexId Pred(VertexId v) const { return pred_[v]; }
  // All distances / predecessors, indexed by vertex.
  const std::vector<int64_t>& Dists() const { return dist_; }
  const std::vector<VertexId>& Preds() const { return pred_; }

  // Gives source v the start label `dist` (0 for a plain search). REQUIRES:
  // v untouched since the last Reset().
  void Seed(VertexId v, int64_t dist) { dist_[v] = dist; }

  // Restores every touched vertex to unreached. O(touched vertices).
  void Reset() {
    for (VertexId v : touched_) {
      dist_[v] = kUnreachable;
      pred_[v] = kNoVertex;
      color_[v] = boost::white_color;
    }
    touched_.clear();
  }

 private:
  template <typename EdgeFilter, typename IsTarget>
  friend class PathSearch;

  std::vector<int64_t> dist_;
  std::vector<VertexId> pred_;
  std::vector<boost::default_color_type> color_;
  std::vector<VertexId> touched_;
};

// Limits of one search.
struct SearchLimits {
  // Paths of length >= bound are not followed (their ends stay unreached).
  int64_t bound = kUnreachable;
  // If not null, charged one unit per edge scanned from every settled
  // non-target vertex (targets are not expanded).
  WorkBudget* budget = nullptr;
  // Stop as soon as `budget` is exhausted (checked once per distance level).
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
// `is_target(v)` is settled (all vertices at its distance are looked at, so
// the lowest id wins) or nothing reachable within the bound is left. Labels of
// the search end up in `labels`; a vertex keeps its seed unless a strictly
// shorter path reaches it.
//
// REQUIRES: every source seeded with labels.Seed() and every other vertex
// untouched since labels.Reset(); edge costs >= 0. With zero-cost edges ties
// are still deterministic but may differ from a lexicographic heap.
template <typename EdgeFilter = AllEdges, typename IsTarget = NoTargets>
SearchOutcome ShortestPaths(const OverlayGraph& graph, absl::Span<const VertexId> sources,
                            const SearchLimits& limits, PathLabels& labels,
                            EdgeFilter allow = {}, IsTarget is_target = {});

// ---------------------------------------------------------------------------
// Implementation.

// One run of ShortestPaths; not for direct use.
template <typename EdgeFilter, typename IsTarget>
class PathSearch {
 public:
  PathSearch(const OverlayGraph& graph, const SearchLimits& limits, PathLabels& labels,
             EdgeFilter allow, IsTarget is_target)
      : graph_(graph), limits_(limits), labels_(labels), allow_(allow),
        is_target_(is_target) {}

  SearchOutcome Run(absl::Span<const VertexId> sources) {
    const boost::typed_identity_property_map<VertexId> index;
    try {
      boost::dijkstra_shortest_paths_no_init(
          graph_, sources.begin(), sources.end(), labels_.pred_.data(),
          labels_.dist_.data(), Weight{&allow_}, index, std::less<int64_t>(),
          Combine{limits_.bound}, int64_t{0}, Visitor{this},
          boost::make_iterator_property_map(labels_.color_.data(), index));
      CloseLevel();
    } catch (const Stop&) {
    }
    return outcome_;
  }

 private:
  struct Stop {};  // thrown by the visitor to end the search; never escapes

  // Edge cost, or kUnreachable for a filtered edge.
  struct Weight {
    using key_type = Edge;
    using value_type = int64_t;
    using reference = int64_t;
    using category = boost::readable_property_map_tag;
    const EdgeFilter* allow;
    friend int64_t get(const Weight& w, const Edge& e) {
      return (*w.allow)(e) ? e.cost : kUnreachable;
    }
  };
  // Path length, or kUnreachable at or beyond the bound.
  struct Combine {
    int64_t bound;
    int64_t operator()(int64_t d, int64_t w) const {
      const int64_t sum = d + w;  // both <= kUnreachable: no overflow
      return sum >= bound ? kUnreachable : sum;
    }
  };

  struct Visitor : boost::default_dijkstra_visitor {
    PathSearch* search;
    explicit Visitor(PathSearch* s) : search(s) {}
    void discover_vertex(VertexId v, const OverlayGraph&) const {
      search->labels_.touched_.push_back(v);
    }
    void examine_vertex(VertexId v, const OverlayGraph&) const { search->Examine(v); }
    void edge_not_relaxed(const Edge& e, const OverlayGraph&) const { search->BreakTie(e); }
  };

  // Called once per settled vertex, in nondecreasing distance.
  void Examine(VertexId v) {
    const int64_t d = labels_.dist_[v];
    if (d >= limits_.bound || d >= kUnreachable) {
      CloseLevel();
      throw Stop{};  // everything left is out of reach
    }
    if (level_open_ && d != level_dist_) {
      CloseLevel();
      if (outcome_.target != kNoVertex) throw Stop{};
      if (limits_.stop_when_spent && limits_.budget != nullptr &&
          limits_.budget->Exhausted()) {
        outcome_.budget_spent = true;
        throw Stop{};
      }
    }
    level_open_ = true;
    level_dist_ = d;
    if (is_target_(v)) {
      if (outcome_.target == kNoVertex || v < outcome_.target) outcome_.target = v;
    } else if constexpr (std::is_same_v<IsTarget, NoTargets>) {
      Charge(v);
    } else {
      level_.push_back(v);
    }
  }

  // Charges the vertices settled at the current distance that a search in
  // (distance, id) order would have expanded before its first target.
  void CloseLevel() {
    for (VertexId v : level_) {
      if (outcome_.target == kNoVertex || v < outcome_.target) Charge(v);
    }
    level_.clear();
  }

  void Charge(VertexId v) {
    if (limits_.budget != nullptr) {
      limits_.budget->Charge(static_cast<int64_t>(graph_.Adjacent(v).size()));
    }
  }

  // An edge that did not shorten e.v's path but matches it takes over as
  // predecessor if its tail is smaller in (distance, id), or in id alone.
  void BreakTie(const Edge& e) {
    if (e.cost <= 0 || !allow_(e)) return;
    std::vector<int64_t>& dist = labels_.dist_;
    std::vector<VertexId>& pred = labels_.pred_;
    const VertexId p = pred[e.v];
    if (p == kNoVertex || dist[e.u] + e.cost != dist[e.v]) return;
    if (limits_.ties_to_lower_id ? e.u < p
                                 : dist[e.u] < dist[p] || (dist[e.u] == dist[p] && e.u < p)) {
      pred[e.v] = e.u;
    }
  }

  const OverlayGraph& graph_;
  const SearchLimits& limits_;
  PathLabels& labels_;
  EdgeFilter allow_;
  IsTarget is_target_;
  SearchOutcome outcome_;
  bool level_open_ = false;
  int64_t level_dist_ = 0;
  std::vector<VertexId> level_;  // settled non-targets at level_dist_
};

template <typename EdgeFilter, typename IsTarget>
SearchOutcome ShortestPaths(const OverlayGraph& graph, absl::Span<const VertexId> sources,
                            const SearchLimits& limits, PathLabels& labels,
                            EdgeFilter allow, IsTarget is_target) {
  return PathSearch<EdgeFilter, IsTarget>(graph, limits, labels, allow, is_target)
      .Run(sources);
}

}  // namespace canopy::tree

#endif  // CANOPY_TREE_SHORTEST_PATHS_H_
