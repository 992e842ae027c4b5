#ifndef CANOPY_CONTROLLER_PLANNER_H_
#define CANOPY_CONTROLLER_PLANNER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

using SourceKey = std::pair<std::string, std::string>;  // (group, source)

// What the planner knows about one attached node.
struct NodeView {
  std::string id;
  std::string data_address;
  uint32_t max_fanout = 0;  // 0 = unlimited
  // group → the node's merged IGMPv3 filter.
  std::map<std::string, v1::SourceFilter> membership;
  // Sources publishing through this node.
  std::set<SourceKey> sources;
};

// Everything a plan depends on.
struct PlanInput {
  std::vector<NodeView> nodes;
  // group → allowed sources (empty or absent = anyone).
  std::map<std::string, std::vector<std::string>> allow_lists;
  // Numeric ids for every group and source that appear in `nodes`.
  std::map<std::string, uint32_t> group_handles;
  std::map<SourceKey, uint32_t> source_ids;
};

// A source the planner refused, and why (sent to its ingress node).
struct Rejection {
  std::string node;
  SourceKey key;
  std::string reason;
};

// The computed state: per node, its flow entries; per flow, its tree in the
// shape canopyctl shows.
struct Plan {
  std::map<std::string, std::vector<v1::FlowEntry>> tables;
  std::map<SourceKey, v1::SourceTree> trees;
  std::vector<Rejection> rejections;
};

// Computes, for every allowed (group, source), a shortest-path tree from
// the source's ingress node to every node whose merged filter admits the
// source, over a full mesh of the nodes with unit link costs and each
// node's fan-out limit, and turns the trees into per-node forwarding
// entries. A source published through several nodes is served from the
// lowest node id; the others are rejected. Deterministic.
Plan ComputePlan(const PlanInput& input);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_PLANNER_H_
