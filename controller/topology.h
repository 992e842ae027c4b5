#ifndef CANOPY_CONTROLLER_TOPOLOGY_H_
#define CANOPY_CONTROLLER_TOPOLOGY_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "controller/probe_plan.h"
#include "controller/static_links.h"
#include "proto/network_coordinate.h"
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

struct TopologyOptions {
  // Cost of a link whose RTT nobody measured and no coordinates estimate.
  int64_t default_cost_us = 1000;
  // Who probes whom (ProbePlan).
  ProbePlanOptions probes;
  // An unmeasured link is costed by the coordinates' estimate only if both
  // ends' coordinates claim at most this relative error; else by
  // default_cost_us.
  double max_estimate_error = 1.0;
};

// The overlay's nodes and links. Without static links, the links are the
// pairs where one node probes the other (ProbePlan): every pair while the
// overlay is small (a full mesh), else each node's nearest peers by network
// coordinates plus a few random ones — O(n·k) links. A link costs the RTT
// its ends measured (the mean of both directions when both reported), else
// the RTT their coordinates estimate, else a default. Should the probed
// pairs leave the overlay in pieces, each piece is joined to the largest by
// the estimated-nearest pair between them, so every node reachable in the
// network is reachable in the graph. With static links configured, exactly
// those links with their configured costs.
//
// Builds the OverlayGraph the tree algorithms use, with vertices in node-id
// order. Memory is O(nodes + probed pairs): RTTs are kept only for pairs a
// node was asked to probe.
//
// Thread-compatible.
class Topology {
 public:
  explicit Topology(TopologyOptions options);

  // Adds (or replaces) a node. Returns the nodes whose probe lists changed.
  std::vector<std::string> AddNode(const NodeSpec& spec);
  // Returns the nodes whose probe lists changed.
  std::vector<std::string> RemoveNode(const std::string& id);
  // Records RTTs that `from` measured (µs; 0 = unreachable, forgets it).
  // Only peers `from` was asked to probe count; reports from or about
  // nodes that are not attached are ignored.
  void ReportRtts(const std::string& from,
                  const std::vector<std::pair<std::string, uint64_t>>& rtts);
  // Records `from`'s network coordinate. Returns true if its probe list
  // changed (it is due a new ProbePeers).
  bool ReportCoordinate(const std::string& from, const NetworkCoordinate& coordinate);
  void SetStaticLinks(std::vector<StaticLink> links);
  // Node id → multicast domain id (VertexInfo::lan) for nodes in one;
  // returns false if nothing changed.
  bool SetMulticastDomains(std::map<std::string, std::string> domain_of);
  // The node's multicast domain id, "" for none.
  std::string DomainOf(const std::string& id) const;

  const std::map<std::string, NodeSpec>& nodes() const { return nodes_; }
  const std::vector<StaticLink>& static_links() const { return static_links_; }
  const ProbePlan& probes() const { return probes_; }

  // Builds the graph; `names[v]` is the node of vertex v. If `names` already
  // lists exactly the current nodes their order is kept, else it is replaced
  // by the nodes in id order. Also counts the links whose cost is an
  // estimate or a default (links_estimated()).
  tree::OverlayGraph BuildGraph(std::vector<std::string>& names);

  // Adds node `id` (already added with AddNode) as a new vertex of `graph`,
  // with its links to the nodes in `vertex_of` (node id → vertex), and
  // appends it to `names`. Returns its vertex.
  tree::VertexId ExtendGraph(const std::string& id, tree::OverlayGraph& graph,
                             std::vector<std::string>& names,
                             const std::map<std::string, tree::VertexId>& vertex_of) const;

  // Cost of the link a–b: the mean of the RTTs measured either way (one way
  // if only one was), else the coordinates' estimate, else the default.
  int64_t LinkCost(const std::string& a, const std::string& b) const;
  // The coordinates' estimate of the RTT a–b in µs, or -1 if either end has
  // no coordinate good enough to estimate with.
  int64_t EstimatedCost(const std::string& a, const std::string& b) const;

  // Links of the last BuildGraph, and how many of them were costed without
  // a measurement (an estimate or the default) or added to join pieces.
  int64_t links() const { return links_; }
  int64_t links_estimated() const { return links_estimated_; }
  int64_t links_joining() const { return links_joining_; }

 private:
  // Drops what `from` measured to nodes it no longer probes.
  void ForgetUnprobed(const std::string& from);
  // The RTT `from` measured to `to`, 0 if none.
  uint64_t Measured(const std::string& from, const std::string& to) const;
  // Adds links until the graph is connected (see the class comment).
  void JoinPieces(tree::OverlayGraph& graph, const std::vector<std::string>& names);

  const TopologyOptions options_;
  std::map<std::string, NodeSpec> nodes_;
  ProbePlan probes_;
  // from → to → rtt µs. Outside a full mesh only peers `from` probes.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint64_t>> rtts_;
  std::vector<StaticLink> static_links_;
  std::map<std::string, std::string> domain_of_;
  int64_t links_ = 0;
  int64_t links_estimated_ = 0;
  int64_t links_joining_ = 0;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_TOPOLOGY_H_
