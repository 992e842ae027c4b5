#include "tree/lan.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace canopy::tree {

absl::StatusOr<LanTree> BuildLanTree(const OverlayGraph& graph, VertexId root,
                                     absl::Span<const VertexId> members, TreeProfile profile,
                                     const SteinerOptions& options) {
  const int32_t n = graph.VertexCount();
  if (root < 0 || root >= n) {
    return absl::InvalidArgumentError(absl::StrCat("root ", root, " is not a vertex"));
  }
  for (VertexId m : members) {
    if (m < 0 || m >= n) {
      return absl::InvalidArgumentError(absl::StrCat("member ", m, " is not a vertex"));
    }
  }
  // Contract.
  OverlayGraph small;
  std::vector<VertexId> to_small(n, kNoVertex);
  absl::flat_hash_map<std::string, VertexId> lan_vertex;
  std::vector<std::vector<VertexId>> group;
  for (VertexId v = 0; v < n; ++v) {
    const VertexInfo& info = graph.Vertex(v);
    if (!info.lan.empty()) {
      auto it = lan_vertex.find(info.lan);
      if (it != lan_vertex.end()) {
        VertexId s = it->second;
        to_small[v] = s;
        group[s].push_back(v);
        continue;
      }
    }
    VertexInfo merged = info;
    if (!info.lan.empty()) merged.name = absl::StrCat("lan:", info.lan);
    VertexId s = small.AddVertex(merged);
    to_small[v] = s;
    group.push_back({v});
    if (!info.lan.empty()) lan_vertex[info.lan] = s;
  }
  // Rebuild with the hyper-node fan-out sums (AddVertex copies the info).
  OverlayGraph contracted;
  for (VertexId s = 0; s < small.VertexCount(); ++s) {
    VertexInfo info = small.Vertex(s);
    if (group[s].size() >= 2) {
      int32_t sum = 0;
      for (VertexId v : group[s]) {
        if (graph.Vertex(v).max_fanout <= 0) {
          sum = 0;
          break;
        }
        sum += graph.Vertex(v).max_fanout;
      }
      info.max_fanout = sum;
    }
    contracted.AddVertex(std::move(info));
  }
  // Cheapest original link per contracted pair.
  absl::flat_hash_map<uint64_t, std::pair<VertexId, VertexId>> realised;
  auto key = [](VertexId a, VertexId b) {
    if (a > b) std::swap(a, b);
    return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
  };
  for (const Edge& e : graph.Edges()) {
    VertexId a = to_small[e.u], b = to_small[e.v];
    if (a == b) continue;
    std::optional<int64_t> existing = contracted.Cost(a, b);
    if (existing.has_value() && *existing <= e.cost) continue;
    if (absl::Status s = contracted.AddEdge(a, b, e.cost, e.capacity_bps); !s.ok()) return s;
    realised[key(a, b)] = {e.u, e.v};
  }
  std::vector<VertexId> small_members;
  for (VertexId m : members) {
    if (to_small[m] != to_small[root]) small_members.push_back(to_small[m]);
  }
  std::sort(small_members.begin(), small_members.end());
  small_members.erase(std::unique(small_members.begin(), small_members.end()),
                      small_members.end());
  absl::StatusOr<RootedTree> small_tree =
      profile == TreeProfile::kLatency
          ? ShortestPathTree(contracted, to_small[root], small_members)
          : SteinerRootedTree(contracted, to_small[root], small_members, options);
  if (!small_tree.ok()) return small_tree.status();

  // Expand.
  LanTree out;
  out.tree.root = root;
  out.tree.parent.assign(n, kNoVertex);
  out.tree.cost = small_tree->cost;
  out.via_lan.assign(n, 0);
  const int32_t k = contracted.VertexCount();
  std::vector<VertexId> entry(k, kNoVertex);  // forwarder of each hyper-node
  entry[to_small[root]] = root;
  std::vector<std::vector<VertexId>> relays(k);  // LAN vertices sending out
  for (VertexId s = 0; s < k; ++s) {
    VertexId p = small_tree->parent[s];
    if (p == kNoVertex) continue;
    auto [a, b] = realised.at(key(p, s));
    VertexId inside_parent = to_small[a] == p ? a : b;
    VertexId inside_child = to_small[a] == p ? b : a;
    out.tree.parent[inside_child] = inside_parent;
    entry[s] = inside_child;
    relays[p].push_back(inside_parent);
  }
  std::vector<char> is_member(n, 0);
  for (VertexId m : members) is_member[m] = 1;
  for (VertexId s = 0; s < k; ++s) {
    if (entry[s] == kNoVertex || group[s].size() < 2) continue;
    VertexId fwd = entry[s];
    out.forwarder[graph.Vertex(fwd).lan] = fwd;
    for (VertexId v : group[s]) {
      bool needed = is_member[v] || std::find(relays[s].begin(), relays[s].end(), v) !=
                                        relays[s].end();
      if (v == fwd || !needed) continue;
      out.tree.parent[v] = fwd;
      out.via_lan[v] = 1;
    }
  }
  return out;
}

}  // namespace canopy::tree
