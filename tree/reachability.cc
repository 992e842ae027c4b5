#include "tree/reachability.h"

#include <string>

#include "absl/container/flat_hash_map.h"

namespace canopy::tree {

std::vector<char> ReachableFrom(const OverlayGraph& graph, VertexId root) {
  const VertexId n = graph.VertexCount();
  std::vector<char> seen(n, 0);
  if (root < 0 || root >= n) return seen;
  // Members of each multicast domain, so a domain is entered once.
  absl::flat_hash_map<std::string, std::vector<VertexId>> domains;
  for (VertexId v = 0; v < n; ++v) {
    if (!graph.Vertex(v).lan.empty()) domains[graph.Vertex(v).lan].push_back(v);
  }
  std::vector<VertexId> stack{root};
  seen[root] = 1;
  auto visit = [&](VertexId w) {
    if (seen[w]) return;
    seen[w] = 1;
    stack.push_back(w);
  };
  while (!stack.empty()) {
    const VertexId u = stack.back();
    stack.pop_back();
    for (const Edge& e : graph.Adjacent(u)) visit(e.v);
    const std::string& lan = graph.Vertex(u).lan;
    if (lan.empty()) continue;
    auto domain = domains.find(lan);
    if (domain == domains.end()) continue;
    for (VertexId w : domain->second) visit(w);
    domains.erase(domain);  // every member is queued now
  }
  return seen;
}

}  // namespace canopy::tree
