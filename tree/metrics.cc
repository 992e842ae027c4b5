#include "tree/metrics.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tree/internal/voronoi.h"
#include "tree/rooted_tree_util.h"

namespace canopy::tree {

absl::StatusOr<TreeMetrics> ComputeTreeMetrics(const OverlayGraph& graph,
                                               const RootedTree& tree,
                                               absl::Span<const VertexId> members) {
  const int32_t n = graph.VertexCount();
  TreeMetrics m;
  m.total_cost = tree.cost;
  std::vector<int32_t> kids = ChildCounts(tree);
  for (int32_t k : kids) m.max_fanout_used = std::max(m.max_fanout_used, k);
  std::vector<char> source(n, 0);
  if (tree.root >= 0 && tree.root < n) source[tree.root] = 1;
  internal::Voronoi direct;
  internal::ComputeVoronoi(graph, source, direct, nullptr);
  int32_t counted = 0;
  double delay_sum = 0, stretch_sum = 0;
  for (VertexId v : members) {
    if (v < 0 || v >= n || !tree.Contains(v)) {
      return absl::InvalidArgumentError(absl::StrCat("member ", v, " is not in the tree"));
    }
    if (v == tree.root) continue;
    int64_t delay = 0;
    int32_t hops = 0;
    for (VertexId x = v; x != tree.root; x = tree.parent[x]) {
      std::optional<int64_t> c = graph.Cost(x, tree.parent[x]);
      if (!c.has_value() || hops > n) {
        return absl::InvalidArgumentError(absl::StrCat("bad tree link above ", x));
      }
      delay += *c;
      ++hops;
    }
    double stretch = direct.dist[v] > 0 ? static_cast<double>(delay) / direct.dist[v] : 1.0;
    m.max_delay = std::max(m.max_delay, delay);
    m.max_stretch = std::max(m.max_stretch, stretch);
    m.depth = std::max(m.depth, hops);
    delay_sum += static_cast<double>(delay);
    stretch_sum += stretch;
    ++counted;
  }
  if (counted > 0) {
    m.mean_delay = delay_sum / counted;
    m.mean_stretch = stretch_sum / counted;
  }
  return m;
}

}  // namespace canopy::tree
