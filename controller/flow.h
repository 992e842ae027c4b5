#ifndef CANOPY_CONTROLLER_FLOW_H_
#define CANOPY_CONTROLLER_FLOW_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "canopy/v1/controller.pb.h"
#include "tree/flow_tree.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::controller {

using SourceKey = std::pair<std::string, std::string>;  // (group, source)

// One planned (group, source) flow: where it enters, who wants it, and the
// forwarding tree its group's profile gave it. Plain data, owned by the
// planner; profile strategies (profile_strategy.h) shape `tree`.
// Thread-compatible.
struct Flow {
  std::string ingress;
  uint32_t group_handle = 0;
  uint32_t source_id = 0;
  v1::TreeProfile profile = v1::TREE_PROFILE_LATENCY;
  std::set<tree::VertexId> wanted;  // excludes the ingress
  // A `latency` flow's incremental tree (no LANs); unset otherwise.
  std::optional<tree::LatencyFlowTree> latency;
  tree::RootedTree tree;  // the forwarding tree, every profile
  // via_lan[v]: v receives the flow by LAN multicast from its parent (the
  // LAN's designated forwarder). Empty when no LAN is involved.
  std::vector<char> via_lan;
  // Why the last build of the tree failed ("" if it did not).
  std::string build_error;
  // A `bulk` flow's chosen shape and prediction (unset otherwise).
  std::optional<v1::BulkPrediction> bulk;
  // Wanted nodes outside the tree (by node id), and why.
  std::map<std::string, std::string> unreachable;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_FLOW_H_
