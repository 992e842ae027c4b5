#include "tree/bulk.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tree/internal/steiner_core.h"
#include "tree/internal/voronoi.h"

namespace canopy::tree {
namespace {

std::vector<VertexId> Points(VertexId source, absl::Span<const VertexId> members) {
  std::vector<VertexId> pts = {source};
  absl::flat_hash_set<VertexId> seen = {source};
  for (VertexId m : members) {
    if (seen.insert(m).second) pts.push_back(m);
  }
  return pts;
}

}  // namespace

absl::StatusOr<PointDistances> ComputePointDistances(const OverlayGraph& graph, VertexId source,
                                                     absl::Span<const VertexId> members) {
  const int32_t n = graph.VertexCount();
  PointDistances out;
  out.points = Points(source, members);
  const std::vector<VertexId>& points = out.points;
  for (VertexId p : points) {
    if (p < 0 || p >= n)
      return absl::InvalidArgumentError(absl::StrCat("vertex ", p, " is not a vertex"));
  }
  out.dist.assign(points.size(), std::vector<int64_t>(points.size()));
  // Where every pair is linked (the full mesh) a hop is its link: shapes
  // only hop along links, and n Dijkstras over n² edges would take seconds.
  bool complete = true;
  for (size_t i = 0; i < points.size() && complete; ++i) {
    for (size_t j = i + 1; j < points.size(); ++j) {
      const std::optional<int64_t> cost = graph.Cost(points[i], points[j]);
      if (!cost) {
        complete = false;
        break;
      }
      out.dist[i][j] = out.dist[j][i] = *cost;
    }
  }
  if (complete) return out;
  std::vector<char> src(n, 0);
  internal::Voronoi vor;
  for (size_t i = 0; i < points.size(); ++i) {
    src[points[i]] = 1;
    internal::ComputeVoronoi(graph, src, vor, nullptr);
    src[points[i]] = 0;
    std::vector<std::string> missing;
    for (size_t j = 0; j < points.size(); ++j) {
      out.dist[i][j] = vor.dist[points[j]];
      if (out.dist[i][j] >= internal::kInf) missing.push_back(graph.Vertex(points[j]).name);
    }
    if (!missing.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot reach from ", graph.Vertex(points[i]).name, ": ", absl::StrJoin(missing, ", ")));
    }
  }
  return out;
}

absl::StatusOr<PipelinedChain> BuildPipelinedChain(const OverlayGraph& graph, VertexId source,
                                                   absl::Span<const VertexId> members,
                                                   int64_t stream_bps) {
  absl::StatusOr<PointDistances> distances = ComputePointDistances(graph, source, members);
  if (!distances.ok()) return distances.status();
  return BuildPipelinedChain(graph, *distances, stream_bps);
}

absl::StatusOr<PipelinedChain> BuildPipelinedChain(const OverlayGraph& graph,
                                                   const PointDistances& distances,
                                                   int64_t stream_bps) {
  const std::vector<VertexId>& pts = distances.points;
  const auto& d = distances.dist;
  const size_t m = pts.size();
  // Slow members (cannot forward at stream rate) must be last.
  std::vector<size_t> slow;
  for (size_t i = 1; i < m; ++i) {
    int64_t up = graph.Vertex(pts[i]).upload_bps;
    if (stream_bps > 0 && up > 0 && up < stream_bps) slow.push_back(i);
  }
  if (slow.size() > 1) {
    std::vector<std::string> names;
    for (size_t i : slow) names.push_back(graph.Vertex(pts[i]).name);
    return absl::FailedPreconditionError(absl::StrCat(
        "more than one member uploads below the stream rate: ", absl::StrJoin(names, ", ")));
  }
  std::vector<size_t> order = {0};
  std::vector<char> used(m, 0);
  used[0] = 1;
  for (size_t i : slow) used[i] = 1;
  for (size_t step = 1; step < m - slow.size(); ++step) {
    size_t last = order.back(), best = 0;
    for (size_t j = 1; j < m; ++j) {
      if (!used[j] && (best == 0 || d[last][j] < d[last][best])) best = j;
    }
    used[best] = 1;
    order.push_back(best);
  }
  // 2-opt on the open path; order[0] fixed (and a slow tail fixed).
  const size_t end = order.size();
  for (bool improved = true; improved;) {
    improved = false;
    for (size_t i = 1; i + 1 < end; ++i) {
      for (size_t j = i + 1; j < end; ++j) {
        int64_t before = d[order[i - 1]][order[i]];
        int64_t after = d[order[i - 1]][order[j]];
        if (j + 1 < end) {
          before += d[order[j]][order[j + 1]];
          after += d[order[i]][order[j + 1]];
        }
        if (after < before) {
          std::reverse(order.begin() + i, order.begin() + j + 1);
          improved = true;
        }
      }
    }
  }
  for (size_t i : slow) order.push_back(i);
  PipelinedChain chain;
  for (size_t k = 0; k < order.size(); ++k) {
    chain.order.push_back(pts[order[k]]);
    if (k > 0) chain.cost += d[order[k - 1]][order[k]];
    if (k + 1 < order.size()) {
      int64_t up = graph.Vertex(pts[order[k]]).upload_bps;
      if (up > 0 && (chain.bottleneck_bps == 0 || up < chain.bottleneck_bps)) {
        chain.bottleneck_bps = up;
      }
    }
  }
  return chain;
}

absl::StatusOr<StripedForest> BuildStripedForest(const OverlayGraph& graph, VertexId source,
                                                 absl::Span<const VertexId> members, int32_t k,
                                                 int64_t stream_bps) {
  if (k < 1) return absl::InvalidArgumentError("need at least one stripe");
  absl::StatusOr<PointDistances> distances = ComputePointDistances(graph, source, members);
  if (!distances.ok()) return distances.status();
  return BuildStripedForest(graph, *distances, k, stream_bps);
}

absl::StatusOr<StripedForest> BuildStripedForest(const OverlayGraph& graph,
                                                 const PointDistances& distances, int32_t k,
                                                 int64_t stream_bps) {
  if (k < 1) return absl::InvalidArgumentError("need at least one stripe");
  const std::vector<VertexId>& pts = distances.points;
  const auto& d = distances.dist;
  const VertexId source = pts.front();
  const size_t m = pts.size();
  const int64_t stripe_bps = stream_bps > 0 ? std::max<int64_t>(1, stream_bps / k) : 0;
  constexpr int64_t kUnlimited = std::numeric_limits<int32_t>::max();
  auto slots_of = [&](size_t i) {
    const VertexInfo& info = graph.Vertex(pts[i]);
    int64_t slots = kUnlimited;
    if (stripe_bps > 0 && info.upload_bps > 0) slots = info.upload_bps / stripe_bps;
    if (info.max_fanout > 0) slots = std::min<int64_t>(slots, info.max_fanout);
    return slots;
  };
  // Deal members to stripes so that each stripe's interior members add up to
  // about the same upload: by decreasing upload, each to the stripe with the
  // least so far (ties: lower stripe, lower vertex id). An unknown upload
  // counts as the largest known one (it is limited by max_fanout only).
  int64_t largest_known = 1;
  for (size_t i = 1; i < m; ++i)
    largest_known = std::max(largest_known, graph.Vertex(pts[i]).upload_bps);
  auto upload_of = [&](size_t i) {
    const int64_t up = graph.Vertex(pts[i]).upload_bps;
    return up > 0 ? up : largest_known;
  };
  std::vector<size_t> by_upload;
  for (size_t i = 1; i < m; ++i) by_upload.push_back(i);
  std::stable_sort(by_upload.begin(), by_upload.end(),
                   [&](size_t a, size_t b) { return upload_of(a) > upload_of(b); });
  std::vector<int32_t> stripe_of(m, -1);
  std::vector<int64_t> dealt(k, 0);
  for (size_t i : by_upload) {
    const auto s =
        static_cast<int32_t>(std::min_element(dealt.begin(), dealt.end()) - dealt.begin());
    stripe_of[i] = s;
    dealt[s] += upload_of(i);
  }
  StripedForest forest;
  forest.interior_stripe.assign(graph.VertexCount(), -1);
  int64_t source_slots = slots_of(0);
  for (int32_t s = 0; s < k; ++s) {
    // The source's slots are shared fairly by the stripes still to build.
    int64_t source_quota = source_slots >= kUnlimited ? kUnlimited : source_slots / (k - s);
    RootedTree t;
    t.root = source;
    t.parent.assign(graph.VertexCount(), kNoVertex);
    std::vector<int64_t> free(m, 0);
    std::vector<char> placed(m, 0);
    placed[0] = 1;
    std::vector<size_t> interior = {0};
    std::vector<int32_t> depth(m, 0);
    // Attaches point i under the shallowest placed interior vertex with a
    // slot, the nearest among equally shallow ones: every hop delays the
    // stripe's pipeline by a chunk, so a stripe is kept bushy.
    auto attach = [&](size_t i) -> bool {
      size_t best = m;
      for (size_t p : interior) {
        int64_t slots = p == 0 ? source_quota : free[p];
        if (slots <= 0) continue;
        if (best == m || depth[p] < depth[best] ||
            (depth[p] == depth[best] && d[p][i] < d[best][i])) {
          best = p;
        }
      }
      if (best == m) return false;
      if (best == 0) {
        --source_slots;
        --source_quota;
      } else {
        --free[best];
      }
      t.parent[pts[i]] = pts[best];
      depth[i] = depth[best] + 1;
      t.cost += d[best][i];
      placed[i] = 1;
      return true;
    };
    std::vector<size_t> own;
    for (size_t i = 1; i < m; ++i) {
      if (stripe_of[i] == s) own.push_back(i);
    }
    // Those that can feed the most go nearest the root, so the stripe is
    // shallow and a member without a slot never takes the place of one
    // with slots; nearest first among equals.
    std::stable_sort(own.begin(), own.end(), [&](size_t a, size_t b) {
      const int64_t slots_a = slots_of(a), slots_b = slots_of(b);
      return slots_a != slots_b ? slots_a > slots_b : d[0][a] < d[0][b];
    });
    for (size_t i : own) {
      if (slots_of(i) <= 0) break;  // a leaf in its own stripe too
      if (!attach(i)) break;
      free[i] = slots_of(i);
      interior.push_back(i);
      forest.interior_stripe[pts[i]] = s;
    }
    for (size_t i = 1; i < m; ++i) {
      if (placed[i]) continue;
      if (!attach(i)) {
        return absl::FailedPreconditionError(
            absl::StrCat("upload capacity cannot carry ", k, " stripes: no slot for ",
                         graph.Vertex(pts[i]).name, " in stripe ", s));
      }
    }
    forest.stripes.push_back(std::move(t));
  }
  return forest;
}

double DistributionTimeBound(double file_bits, double source_upload_bps, double min_download_bps,
                             int64_t receivers, double sum_receiver_upload_bps) {
  double t = file_bits / source_upload_bps;
  t = std::max(t, file_bits / min_download_bps);
  t = std::max(t, static_cast<double>(receivers) * file_bits /
                      (source_upload_bps + sum_receiver_upload_bps));
  return t;
}

namespace {

// Depth of the deepest vertex of `tree` (the root has depth 0).
int TreeDepth(const RootedTree& tree) {
  const auto n = static_cast<VertexId>(tree.parent.size());
  int depth = 0;
  for (VertexId v = 0; v < n; ++v) {
    int d = 0;
    for (VertexId u = v; u != kNoVertex && d <= n; u = tree.parent[u]) ++d;
    depth = std::max(depth, d - 1);
  }
  return depth;
}

// Children of every vertex summed over `trees`.
std::vector<int> ChildCounts(absl::Span<const RootedTree> trees, VertexId n) {
  std::vector<int> children(n, 0);
  for (const RootedTree& t : trees) {
    for (VertexId v = 0; v < n && v < static_cast<VertexId>(t.parent.size()); ++v) {
      if (t.parent[v] != kNoVertex) ++children[t.parent[v]];
    }
  }
  return children;
}

// Pipelined time of one tree whose forwarders share their upload over
// `shared_children` (children over every tree they forward in).
double PipelinedSeconds(const OverlayGraph& graph, const RootedTree& tree,
                        const std::vector<int>& shared_children, double file_bits,
                        double chunk_bits, double default_upload_bps) {
  const auto n = static_cast<VertexId>(tree.parent.size());
  std::vector<char> forwards(n, 0);
  for (VertexId v = 0; v < n; ++v) {
    if (tree.parent[v] != kNoVertex) forwards[tree.parent[v]] = 1;
  }
  double rate = std::numeric_limits<double>::infinity();
  for (VertexId v = 0; v < n; ++v) {
    if (!forwards[v]) continue;
    const int64_t up = graph.Vertex(v).upload_bps;
    rate = std::min(rate,
                    (up > 0 ? static_cast<double>(up) : default_upload_bps) / shared_children[v]);
  }
  if (rate == std::numeric_limits<double>::infinity()) return 0;
  return file_bits / rate + std::max(0, TreeDepth(tree) - 1) * chunk_bits / rate;
}

}  // namespace

double PredictedDistributionSeconds(const OverlayGraph& graph, const RootedTree& tree,
                                    double file_bits, double chunk_bits,
                                    double default_upload_bps) {
  const auto n = static_cast<VertexId>(tree.parent.size());
  return PipelinedSeconds(graph, tree, ChildCounts({&tree, 1}, n), file_bits, chunk_bits,
                          default_upload_bps);
}

double PredictedForestSeconds(const OverlayGraph& graph, const StripedForest& forest,
                              double file_bits, double chunk_bits, double default_upload_bps) {
  if (forest.stripes.empty()) return 0;
  const std::vector<int> children = ChildCounts(forest.stripes, graph.VertexCount());
  const double stripe_bits = file_bits / static_cast<double>(forest.stripes.size());
  double slowest = 0;
  for (const RootedTree& t : forest.stripes) {
    slowest = std::max(slowest, PipelinedSeconds(graph, t, children, stripe_bits, chunk_bits,
                                                 default_upload_bps));
  }
  return slowest;
}

}  // namespace canopy::tree
