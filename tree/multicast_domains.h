#ifndef CANOPY_TREE_MULTICAST_DOMAINS_H_
#define CANOPY_TREE_MULTICAST_DOMAINS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

namespace canopy::tree {

// Multicast domains from what each node heard on its LAN's discovery
// group: two nodes are linked when each heard the other (one-way hearing
// is not enough: replies must arrive too), and a domain is a connected
// group of two or more linked nodes. Returns, per node in a domain, the
// domain's sorted node ids; nodes in no domain are absent. Deterministic.
std::map<std::string, std::vector<std::string>> MulticastDomains(
    const std::map<std::string, std::set<std::string>>& heard);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_MULTICAST_DOMAINS_H_
