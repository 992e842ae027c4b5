#include "tree/multicast_domains.h"

#include <functional>

namespace canopy::tree {

std::map<std::string, std::vector<std::string>> MulticastDomains(
    const std::map<std::string, std::set<std::string>>& heard) {
  // Union-find over node ids, joined along mutual hearing.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& x) {
    auto it = parent.find(x);
    if (it == parent.end() || it->second == x) return x;
    return it->second = find(it->second);
  };
  for (const auto& [node, peers] : heard) {
    for (const std::string& peer : peers) {
      auto back = heard.find(peer);
      if (peer == node || back == heard.end() || !back->second.contains(node)) continue;
      parent.try_emplace(node, node);
      parent.try_emplace(peer, peer);
      const std::string a = find(node), b = find(peer);
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
  }
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& [node, unused] : parent) members[find(node)].push_back(node);
  std::map<std::string, std::vector<std::string>> domains;
  for (const auto& [root, nodes] : members) {
    if (nodes.size() < 2) continue;
    for (const std::string& n : nodes) domains[n] = nodes;  // std::map keys: already sorted
  }
  return domains;
}

}  // namespace canopy::tree
