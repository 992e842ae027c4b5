#include "tree/internal/steiner_core.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tree/shortest_paths.h"

namespace canopy::tree::internal {

absl::Status CheckTerminals(const OverlayGraph& graph,
                            absl::Span<const VertexId> terminals) {
  const int32_t n = graph.VertexCount();
  for (VertexId t : terminals) {
    if (t < 0 || t >= n) {
      return absl::InvalidArgumentError(absl::StrCat("member ", t, " is not a vertex"));
    }
  }
  if (terminals.empty()) return absl::OkStatus();
  std::vector<char> seen(n, 0);
  std::vector<VertexId> stack = {terminals[0]};
  seen[terminals[0]] = 1;
  while (!stack.empty()) {
    VertexId v = stack.back();
    stack.pop_back();
    for (const Edge& e : graph.Adjacent(v)) {
      if (!seen[e.v]) {
        seen[e.v] = 1;
        stack.push_back(e.v);
      }
    }
  }
  std::vector<std::string> unreachable;
  for (VertexId t : UniqueTerminals(terminals)) {
    if (!seen[t]) unreachable.push_back(graph.Vertex(t).name);
  }
  if (!unreachable.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("graph is disconnected: cannot reach members from ",
                     graph.Vertex(terminals[0]).name, ": ",
                     absl::StrJoin(unreachable, ", ")));
  }
  return absl::OkStatus();
}

std::vector<VertexId> UniqueTerminals(absl::Span<const VertexId> terminals) {
  std::vector<VertexId> out(terminals.begin(), terminals.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool MstPrune(const OverlayGraph& graph, const std::vector<char>& is_terminal,
              VertexId start, std::vector<char>& in_set, std::vector<Edge>& out,
              WorkBudget* budget) {
  const int32_t n = graph.VertexCount();
  out.clear();
  // Which of several equally cheap spanning trees comes out decides what
  // PruneLeaves keeps; SpanningTree's tie rule (next vertex by (cost, id),
  // hung under the lowest-id tree vertex) is the one every Steiner result so
  // far was computed with.
  SpanningTree(
      graph, start, [&](VertexId v) { return in_set[v] != 0; }, budget, out);
  std::vector<char> done(n, 0);
  done[start] = 1;
  for (const Edge& e : out) done[e.v] = 1;
  bool all = true;
  for (VertexId v = 0; v < n; ++v) {
    if (in_set[v] && !done[v]) {
      if (is_terminal[v]) all = false;
      in_set[v] = 0;
    }
  }
  PruneLeaves(n, is_terminal, out);
  std::fill(in_set.begin(), in_set.end(), 0);
  in_set[start] = 1;
  for (const Edge& e : out) in_set[e.u] = in_set[e.v] = 1;
  return all;
}

void PruneLeaves(int32_t n, const std::vector<char>& is_terminal,
                 std::vector<Edge>& edges) {
  std::vector<int32_t> degree(n, 0);
  std::vector<int32_t> head(n, -1), next(2 * edges.size(), -1);
  for (size_t i = 0; i < edges.size(); ++i) {
    const Edge& e = edges[i];
    ++degree[e.u];
    ++degree[e.v];
    next[2 * i] = head[e.u];
    head[e.u] = static_cast<int32_t>(2 * i);
    next[2 * i + 1] = head[e.v];
    head[e.v] = static_cast<int32_t>(2 * i + 1);
  }
  std::vector<char> dead(edges.size(), 0);
  std::vector<VertexId> leaves;
  for (const Edge& e : edges) {
    for (VertexId x : {e.u, e.v}) {
      if (degree[x] == 1 && !is_terminal[x]) leaves.push_back(x);
    }
  }
  while (!leaves.empty()) {
    VertexId x = leaves.back();
    leaves.pop_back();
    if (degree[x] != 1) continue;
    for (int32_t slot = head[x]; slot != -1; slot = next[slot]) {
      size_t i = slot / 2;
      if (dead[i]) continue;
      dead[i] = 1;
      VertexId y = edges[i].u == x ? edges[i].v : edges[i].u;
      --degree[x];
      if (--degree[y] == 1 && !is_terminal[y]) leaves.push_back(y);
      break;
    }
  }
  size_t keep = 0;
  for (size_t i = 0; i < edges.size(); ++i) {
    if (!dead[i]) edges[keep++] = edges[i];
  }
  edges.resize(keep);
}

SteinerSolution Normalize(std::vector<Edge> edges) {
  SteinerSolution s;
  for (Edge& e : edges) {
    if (e.u > e.v) std::swap(e.u, e.v);
    s.cost += e.cost;
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    return std::tie(a.u, a.v) < std::tie(b.u, b.v);
  });
  s.edges = std::move(edges);
  return s;
}

}  // namespace canopy::tree::internal
