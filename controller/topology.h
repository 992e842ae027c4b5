#ifndef CANOPY_CONTROLLER_TOPOLOGY_H_
#define CANOPY_CONTROLLER_TOPOLOGY_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "controller/static_links.h"
#include "tree/overlay_graph.h"

namespace canopy::controller {

// What the topology knows of one node.
struct NodeSpec {
  std::string id;
  std::string data_address;
  uint32_t max_fanout = 0;  // 0 = unlimited
  uint64_t upload_bps = 0;  // 0 = unknown
  // NodeHello.link_token: what its children expect in its links' HELLO.
  std::string link_token = {};
};

// The overlay's nodes and links: a full mesh whose link costs are the RTTs
// nodes measured (the mean of both directions when both reported, else a
// default), or — once static links are configured — exactly those links with
// their configured costs. Builds the OverlayGraph the tree algorithms use,
// with vertices in node-id order.
//
// Thread-compatible.
class Topology {
 public:
  explicit Topology(int64_t default_cost_us) : default_cost_us_(default_cost_us) {}

  void AddNode(const NodeSpec& spec);
  void RemoveNode(const std::string& id);
  // Records RTTs that `from` measured (µs; 0 = unreachable, forgets it).
  // Reports from or about nodes that are not attached are ignored.
  void ReportRtts(const std::string& from,
                  const std::vector<std::pair<std::string, uint64_t>>& rtts);
  void SetStaticLinks(std::vector<StaticLink> links);
  // Node id → multicast domain id (VertexInfo::lan) for nodes in one;
  // returns false if nothing changed.
  bool SetMulticastDomains(std::map<std::string, std::string> domain_of);
  // The node's multicast domain id, "" for none.
  std::string DomainOf(const std::string& id) const;

  const std::map<std::string, NodeSpec>& nodes() const { return nodes_; }
  const std::vector<StaticLink>& static_links() const { return static_links_; }

  // Builds the graph; `names[v]` is the node of vertex v. If `names` already
  // lists exactly the current nodes their order is kept, else it is replaced
  // by the nodes in id order.
  tree::OverlayGraph BuildGraph(std::vector<std::string>& names) const;

  // Adds node `id` (already added with AddNode) as a new vertex of `graph`,
  // with its links to the nodes in `names`, and appends it to `names`.
  // Returns its vertex.
  tree::VertexId ExtendGraph(const std::string& id, tree::OverlayGraph& graph,
                             std::vector<std::string>& names) const;

  // Cost of the full-mesh link a–b: the mean of the RTTs measured either
  // way (one way if only one was), else the default.
  int64_t LinkCost(const std::string& a, const std::string& b) const;

 private:
  const int64_t default_cost_us_;
  std::map<std::string, NodeSpec> nodes_;
  // (from, to) → rtt µs.
  std::map<std::pair<std::string, std::string>, uint64_t> rtts_;
  std::vector<StaticLink> static_links_;
  std::map<std::string, std::string> domain_of_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_TOPOLOGY_H_
