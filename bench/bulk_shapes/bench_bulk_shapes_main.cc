// bench-bulk-shapes: how close the bulk profile's chosen shape comes to the
// distribution bound, planner only (no data moves).
//
// For each upload distribution it builds a full-mesh overlay of one source
// and --receivers receivers (RTTs from random points on a plane), then asks
// the planner's ChooseBulkShape for the shape of a source striped over
// --max-stripes flows, and compares its predicted time for the reference
// object (1 GiB in 1 MiB chunks) with the bound max{F/u_s, N·F/(u_s+Σu_i)}
// and with the shapes a user could force in the same run: the pipelined
// chain, the shortest-path tree, and a forest of exactly 4 stripes.
// Human-readable lines first; the last line is one JSON object.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/program.h"
#include "bench/elapsed.h"
#include "bench/planner/random.h"
#include "tree/bulk.h"
#include "tree/bulk_shape.h"
#include "tree/flow_tree.h"

namespace canopy::bench {
namespace {

constexpr double kMbit = 1e6;
constexpr double kSourceUploadMbit = 200;
constexpr double kTargetRatio = 1.15;
constexpr double kTargetPlanMs = 1000;
constexpr int kFixedStripes = 4;

struct Flags {
  int receivers = 1000;
  int max_stripes = 8;
  uint64_t seed = 1;
};

// One receiver's upload in Mbit/s under a named distribution.
struct Distribution {
  const char* name;
  const char* description;
  double (*upload_mbit)(Random& random, int index, int receivers);
};

const Distribution kDistributions[] = {
    {"equal", "every receiver uploads 200 Mbit/s", [](Random&, int, int) { return 200.0; }},
    {"bimodal", "half the receivers upload 200 Mbit/s, half 50",
     [](Random&, int index, int receivers) { return index < receivers / 2 ? 200.0 : 50.0; }},
    {"quarter_slow", "three quarters upload 200 Mbit/s, a quarter 20",
     [](Random&, int index, int receivers) { return index < receivers / 4 ? 20.0 : 200.0; }},
    {"long_tailed", "Pareto (minimum 25 Mbit/s, shape 1.2), capped at 2000",
     [](Random& random, int, int) {
       const double u = 1.0 - random.UniformDouble();  // (0, 1]
       return std::min(2000.0, 25.0 / std::pow(u, 1.0 / 1.2));
     }},
};

using Clock = std::chrono::steady_clock;

struct Overlay {
  tree::OverlayGraph graph;
  tree::VertexId source = tree::kNoVertex;
  std::set<tree::VertexId> receivers;
};

// A full mesh: the source and every receiver at random points of a
// 100 ms × 100 ms plane, a link's cost its distance in µs (as the
// controller's full mesh of measured RTTs).
Overlay BuildOverlay(const Distribution& distribution, const Flags& flags) {
  Random random(flags.seed);
  Overlay overlay;
  std::vector<std::pair<double, double>> points;
  auto add = [&](std::string name, double upload_mbit) {
    points.emplace_back(random.UniformDouble() * 100'000, random.UniformDouble() * 100'000);
    tree::VertexInfo info;
    info.name = std::move(name);
    info.upload_bps = static_cast<int64_t>(upload_mbit * kMbit);
    return overlay.graph.AddVertex(std::move(info));
  };
  overlay.source = add("source", kSourceUploadMbit);
  for (int i = 0; i < flags.receivers; ++i) {
    overlay.receivers.insert(
        add(absl::StrCat("r", i), distribution.upload_mbit(random, i, flags.receivers)));
  }
  for (tree::VertexId u = 0; u < overlay.graph.VertexCount(); ++u) {
    for (tree::VertexId v = u + 1; v < overlay.graph.VertexCount(); ++v) {
      const double dx = points[u].first - points[v].first;
      const double dy = points[u].second - points[v].second;
      (void)overlay.graph.AddEdge(u, v, 1 + static_cast<int64_t>(std::hypot(dx, dy)));
    }
  }
  return overlay;
}

// Predicted seconds of one tree for every stripe, or NaN if it cannot be built.
double PredictOneTree(const tree::OverlayGraph& graph, const absl::StatusOr<tree::RootedTree>& t,
                      double default_upload_bps) {
  if (!t.ok()) return std::nan("");
  return tree::PredictBulkSeconds(graph, {*t}, default_upload_bps);
}

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.4f", v); }

int Run(const Flags& flags) {
  std::printf(
      "bench-bulk-shapes: %d receivers, source uploads %.0f Mbit/s, up to %d stripes, "
      "reference object 1 GiB\n",
      flags.receivers, kSourceUploadMbit, flags.max_stripes);
  std::vector<std::string> results;
  double worst_ratio = 0, worst_plan_ms = 0;
  for (const Distribution& distribution : kDistributions) {
    const Overlay overlay = BuildOverlay(distribution, flags);
    const tree::OverlayGraph& graph = overlay.graph;
    const double default_upload = kSourceUploadMbit * kMbit;  // every upload is known here
    const double bound =
        tree::BulkBoundSeconds(graph, overlay.source, overlay.receivers, default_upload);

    const Clock::time_point start = Clock::now();
    absl::StatusOr<tree::BulkShape> chosen = tree::ChooseBulkShape(
        graph, overlay.source, overlay.receivers, flags.max_stripes, default_upload);
    const double plan_ms = MsSince(start);
    if (!chosen.ok()) {
      std::fprintf(stderr, "bench-bulk-shapes: %s: %s\n", distribution.name,
                   chosen.status().ToString().c_str());
      return 1;
    }

    // The yardsticks a user could force.
    const std::vector<tree::VertexId> members(overlay.receivers.begin(), overlay.receivers.end());
    absl::StatusOr<tree::RootedTree> chain = [&]() -> absl::StatusOr<tree::RootedTree> {
      absl::StatusOr<tree::PipelinedChain> c =
          tree::BuildPipelinedChain(graph, overlay.source, members);
      if (!c.ok()) return c.status();
      tree::RootedTree t;
      t.root = overlay.source;
      t.parent.assign(graph.VertexCount(), tree::kNoVertex);
      for (size_t i = 1; i < c->order.size(); ++i) t.parent[c->order[i]] = c->order[i - 1];
      return t;
    }();
    absl::StatusOr<tree::RootedTree> spt = [&]() -> absl::StatusOr<tree::RootedTree> {
      absl::StatusOr<tree::LatencyFlowTree> t =
          tree::LatencyFlowTree::Build(graph, overlay.source, overlay.receivers);
      if (!t.ok()) return t.status();
      return t->tree();
    }();
    absl::StatusOr<tree::BulkShape> fixed = tree::BuildBulkForest(
        graph, overlay.source, overlay.receivers, kFixedStripes, default_upload);
    const double chain_s = PredictOneTree(graph, chain, default_upload);
    const double spt_s = PredictOneTree(graph, spt, default_upload);
    const double fixed_s = fixed.ok() ? fixed->predicted_seconds : std::nan("");

    const double ratio = chosen->predicted_seconds / bound;
    worst_ratio = std::max(worst_ratio, ratio);
    worst_plan_ms = std::max(worst_plan_ms, plan_ms);
    std::printf(
        "%-13s %s\n  bound %.2f s; chosen %s of %d tree(s) %.2f s = %.3f× bound "
        "(planned in %.0f ms); chain %.3f×, shortest-path tree %.3f×, %d stripes %.3f×\n",
        distribution.name, distribution.description, bound, tree::BulkShapeName(chosen->kind),
        chosen->distinct_trees, chosen->predicted_seconds, ratio, plan_ms, chain_s / bound,
        spt_s / bound, kFixedStripes, fixed_s / bound);
    results.push_back(absl::StrFormat(
        "\"%s\":{\"shape\":\"%s\", \"trees\":%d, \"bound_s\":%.3f, \"ratio_to_bound\":%.4f, "
        "\"plan_ms\":%.1f, \"chain_ratio\":%s, \"spt_ratio\":%s, \"stripes4_ratio\":%s}",
        distribution.name, tree::BulkShapeName(chosen->kind), chosen->distinct_trees, bound,
        ratio, plan_ms, Json(chain_s / bound), Json(spt_s / bound), Json(fixed_s / bound)));
  }
  const bool met = worst_ratio <= kTargetRatio && worst_plan_ms <= kTargetPlanMs;
  std::printf("worst: %.3f× the bound (target ≤ %.2f), planned in ≤ %.0f ms (target ≤ %.0f): %s\n",
              worst_ratio, kTargetRatio, worst_plan_ms, kTargetPlanMs, met ? "met" : "NOT met");
  std::printf(
      "{\"receivers\":%d, \"max_stripes\":%d, %s, \"worst_ratio_to_bound\":%.4f, "
      "\"worst_plan_ms\":%.1f}\n",
      flags.receivers, flags.max_stripes, absl::StrJoin(results, ", ").c_str(), worst_ratio,
      worst_plan_ms);
  return 0;
}

}  // namespace
}  // namespace canopy::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  canopy::bench::Flags flags;
  CLI::App app{
      "Compares the bulk profile's chosen shape with the distribution bound and with "
      "fixed shapes, planner only, for several upload distributions. The last line of "
      "output is one JSON object."};
  app.add_option("--receivers", flags.receivers, "Receivers besides the source")
      ->check(canopy::IntegerIn(1, 5000))
      ->capture_default_str();
  app.add_option("--max-stripes", flags.max_stripes,
                 "Flows the source is striped over; the planner chooses how many trees")
      ->check(canopy::IntegerIn(1, 64))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of every random choice")
      ->check(canopy::IntegerIn<uint64_t>(0, UINT64_MAX))
      ->capture_default_str();
  if (std::optional<int> exit = canopy::ParseCommandLine(app, "bench-bulk-shapes", argc, argv)) {
    return *exit;
  }
  return canopy::bench::Run(flags);
}
