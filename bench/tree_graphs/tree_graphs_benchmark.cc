// Random geometric graphs (points in the unit square, linked when closer
// than a radius giving mean degree ~8; cost = distance in µs-like units), the
// shape of an RTT-weighted overlay. Mehlhorn runs alongside as the yardstick.

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "tree/mehlhorn.h"
#include "tree/shortest_path_tree.h"
#include "tree/steiner.h"

namespace canopy::tree {
namespace {

struct Instance {
  OverlayGraph graph;
  std::vector<VertexId> members;
};

const Instance& Geometric(int32_t n) {
  static auto* cache = new std::vector<std::pair<int32_t, Instance>>();
  for (auto& [size, inst] : *cache) {
    if (size == n) return inst;
  }
  std::mt19937 rng(42 + n);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> x(n), y(n);
  Instance inst;
  for (int32_t i = 0; i < n; ++i) {
    x[i] = u(rng);
    y[i] = u(rng);
    inst.graph.AddVertex(VertexInfo{std::to_string(i), 0, 0, ""});
  }
  const double r = std::sqrt(8.0 / (3.14159 * n));
  const int32_t cells = std::max(1, static_cast<int32_t>(1 / r));
  std::vector<std::vector<int32_t>> grid(cells * cells);
  auto cell = [&](double c) { return std::min(cells - 1, static_cast<int32_t>(c * cells)); };
  for (int32_t i = 0; i < n; ++i) grid[cell(x[i]) * cells + cell(y[i])].push_back(i);
  for (int32_t i = 0; i < n; ++i) {
    for (int32_t dx = -1; dx <= 1; ++dx) {
      for (int32_t dy = -1; dy <= 1; ++dy) {
        int32_t cx = cell(x[i]) + dx, cy = cell(y[i]) + dy;
        if (cx < 0 || cy < 0 || cx >= cells || cy >= cells) continue;
        for (int32_t j : grid[cx * cells + cy]) {
          double d = std::hypot(x[i] - x[j], y[i] - y[j]);
          if (j > i && d < r) (void)inst.graph.AddEdge(i, j, 1 + static_cast<int64_t>(d * 1e5));
        }
      }
    }
  }
  // Keep the graph connected: chain each vertex to the next one by id order
  // of x coordinate is not needed for correctness of the benchmark, but the
  // members must be reachable, so link consecutive ids with long edges.
  for (int32_t i = 1; i < n; ++i) (void)inst.graph.AddEdge(i - 1, i, 1'000'000);
  for (int32_t i = 0; i < n; i += std::max(1, n / 50)) inst.members.push_back(i);
  cache->push_back({n, std::move(inst)});
  return cache->back().second;
}

void BM_ShortestPathTree(benchmark::State& state) {
  const Instance& inst = Geometric(static_cast<int32_t>(state.range(0)));
  for (auto _ : state) {
    auto t = ShortestPathTree(inst.graph, inst.members[0], inst.members);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_ShortestPathTree)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_Mehlhorn(benchmark::State& state) {
  const Instance& inst = Geometric(static_cast<int32_t>(state.range(0)));
  int64_t cost = 0;
  for (auto _ : state) {
    auto t = MehlhornSteinerTree(inst.graph, inst.members);
    cost = t->cost;
  }
  state.counters["cost"] = static_cast<double>(cost);
}
BENCHMARK(BM_Mehlhorn)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_SteinerSearch(benchmark::State& state) {
  const Instance& inst = Geometric(static_cast<int32_t>(state.range(0)));
  auto mehlhorn = MehlhornSteinerTree(inst.graph, inst.members);
  int64_t cost = 0;
  for (auto _ : state) {
    auto t = SteinerTreeSearch(inst.graph, inst.members);
    cost = t->cost;
  }
  state.counters["cost"] = static_cast<double>(cost);
  state.counters["vs_mehlhorn"] = static_cast<double>(cost) / static_cast<double>(mehlhorn->cost);
}
BENCHMARK(BM_SteinerSearch)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace canopy::tree

// --help in the style of the other programs (CLI11's); every other
// argument goes to Google Benchmark.
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::printf(
          "bench-tree-graphs: shortest-path and Steiner trees on random geometric graphs, "
          "Mehlhorn's 2-approximation as the yardstick in the same run\n"
          "Usage: bench-tree-graphs [OPTIONS]\n\n"
          "Options:\n"
          "  -h,--help                   Print this help message and exit\n"
          "  --benchmark_filter=REGEX    run only the benchmarks whose name matches\n"
          "  --benchmark_min_time=Ns     measure each benchmark at least this long\n"
          "  --benchmark_format=console|json|csv\n"
          "                              output format\n"
          "  (and Google Benchmark's other --benchmark_* flags)\n");
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
