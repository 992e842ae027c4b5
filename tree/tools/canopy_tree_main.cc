// canopy-tree: computes multicast trees for SteinLib / PACE instance files.
//
//   canopy-tree steiner --stp FILE [--time-limit-ms N] --format json
//   canopy-tree spt --stp FILE --root R --format json
//
// Prints {"cost": C, "edges": [[u, v, w], ...], "millis": M} with the file's
// own 1-based node ids. Exit codes: 0 ok, 1 bad input file or no tree,
// 2 bad command line.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/program.h"
#include "tree/shortest_path_tree.h"
#include "tree/steiner.h"
#include "tree/steinlib_reader.h"

namespace {

using canopy::tree::Edge;
using canopy::tree::kNoVertex;
using canopy::tree::VertexId;

std::string Json(int64_t cost, const std::vector<Edge>& edges, int64_t millis) {
  std::string out = absl::StrCat("{\"cost\": ", cost, ", \"edges\": [");
  for (size_t i = 0; i < edges.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", "[", edges[i].u + 1, ", ", edges[i].v + 1, ", ",
                    edges[i].cost, "]");
  }
  absl::StrAppend(&out, "], \"millis\": ", millis, "}");
  return out;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "canopy-tree: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-tree: Steiner and shortest-path trees for SteinLib files"};
  app.require_subcommand(1);
  std::string stp;
  std::string format = "json";
  int64_t time_limit_ms = 0;
  int64_t root_id = 0;
  CLI::App* steiner = app.add_subcommand("steiner", "low-cost Steiner tree over the terminals");
  steiner->add_option("--stp", stp, "SteinLib .stp or PACE .gr file")->required();
  steiner->add_option("--time-limit-ms", time_limit_ms,
                      "search budget in ms (deterministic work units; default built in)")
      ->check(canopy::IntegerIn<int64_t>(1, 3'600'000));
  steiner->add_option("--format", format, "output format")->check(CLI::IsMember({"json"}));
  CLI::App* spt = app.add_subcommand("spt", "shortest-path tree from a root to the terminals");
  spt->add_option("--stp", stp, "SteinLib .stp or PACE .gr file")->required();
  spt->add_option("--root", root_id, "1-based root node id")
      ->required()
      ->check(canopy::IntegerIn<int64_t>(1, INT32_MAX));
  spt->add_option("--format", format, "output format")->check(CLI::IsMember({"json"}));
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-tree", argc, argv)) return *exit_code;

  absl::StatusOr<canopy::tree::SteinerInstance> instance =
      canopy::tree::ReadSteinLibFile(stp);
  if (!instance.ok()) return Fail(instance.status());
  const auto start = std::chrono::steady_clock::now();
  std::vector<Edge> edges;
  int64_t cost = 0;
  if (steiner->parsed()) {
    canopy::tree::SteinerOptions options;
    if (time_limit_ms > 0) {
      options.work_budget = time_limit_ms * canopy::tree::kWorkUnitsPerMilli;
      options.clock = canopy::tree::RealClock();
      options.time_limit = absl::Milliseconds(time_limit_ms);
    }
    absl::StatusOr<canopy::tree::SteinerSolution> solution =
        canopy::tree::SteinerTreeSearch(instance->graph, instance->terminals, options);
    if (!solution.ok()) return Fail(solution.status());
    edges = solution->edges;
    cost = solution->cost;
  } else {
    if (root_id < 1 || root_id > instance->graph.VertexCount()) {
      std::fprintf(stderr, "canopy-tree: --root %lld outside 1..%d\n",
                   static_cast<long long>(root_id), instance->graph.VertexCount());
      return 2;
    }
    VertexId root = static_cast<VertexId>(root_id - 1);
    absl::StatusOr<canopy::tree::RootedTree> tree =
        canopy::tree::ShortestPathTree(instance->graph, root, instance->terminals);
    if (!tree.ok()) return Fail(tree.status());
    for (VertexId v = 0; v < instance->graph.VertexCount(); ++v) {
      if (tree->parent[v] == kNoVertex) continue;
      edges.push_back(Edge{tree->parent[v], v, *instance->graph.Cost(tree->parent[v], v), 0});
    }
    cost = tree->cost;
  }
  const int64_t millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  std::printf("%s\n", Json(cost, edges, millis).c_str());
  return 0;
}
