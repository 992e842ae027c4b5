#include "tree/steiner_solution.h"

#include <numeric>

#include "absl/strings/str_cat.h"

namespace canopy::tree {

absl::Status ValidateSteinerSolution(const OverlayGraph& graph,
                                     absl::Span<const VertexId> terminals,
                                     const SteinerSolution& solution) {
  const int32_t n = graph.VertexCount();
  std::vector<VertexId> uf(n);
  std::iota(uf.begin(), uf.end(), 0);
  auto find = [&](VertexId x) {
    while (uf[x] != x) x = uf[x] = uf[uf[x]];
    return x;
  };
  std::vector<bool> touched(n, false);
  int64_t sum = 0;
  for (const Edge& e : solution.edges) {
    if (e.u < 0 || e.v < 0 || e.u >= n || e.v >= n) {
      return absl::InternalError(absl::StrCat("edge {", e.u, ", ", e.v, "} out of range"));
    }
    bool found = false;
    for (const Edge& g : graph.Adjacent(e.u)) {
      if (g.v == e.v && g.cost == e.cost) found = true;
    }
    if (!found) {
      return absl::InternalError(absl::StrCat("edge {", e.u, ", ", e.v, "} cost ", e.cost,
                                              " is not a graph edge"));
    }
    VertexId a = find(e.u), b = find(e.v);
    if (a == b) {
      return absl::InternalError(absl::StrCat("edge {", e.u, ", ", e.v, "} closes a cycle"));
    }
    uf[a] = b;
    touched[e.u] = touched[e.v] = true;
    sum += e.cost;
  }
  if (sum != solution.cost) {
    return absl::InternalError(
        absl::StrCat("reported cost ", solution.cost, " != edge sum ", sum));
  }
  if (terminals.empty()) return absl::OkStatus();
  if (solution.edges.empty()) {
    for (VertexId t : terminals) {
      if (t != terminals[0]) return absl::InternalError("terminals not spanned");
    }
    return absl::OkStatus();
  }
  VertexId comp = find(solution.edges[0].u);
  for (const Edge& e : solution.edges) {
    if (find(e.u) != comp) return absl::InternalError("edges are not connected");
  }
  for (VertexId t : terminals) {
    if (!touched[t] || find(t) != comp) {
      return absl::InternalError(absl::StrCat("terminal ", t, " not spanned"));
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy::tree
