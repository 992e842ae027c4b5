#ifndef CANOPY_CONTROLLER_TABLE_COMPILER_H_
#define CANOPY_CONTROLLER_TABLE_COMPILER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "canopy/v1/common.pb.h"
#include "canopy/v1/controller.pb.h"
#include "controller/flow.h"
#include "controller/topology.h"

namespace canopy::controller {

// What compiling a flow's entries reads besides the flow itself.
struct TableContext {
  // Vertex → node id.
  const std::vector<std::string>& names;
  // The attached nodes: their data addresses and link tokens.
  const std::map<std::string, NodeSpec>& nodes;
  // The group's policy, or null for the defaults.
  const v1::GroupPolicy* policy = nullptr;
  // "A.B.C.D:PORT", the group's address on LANs (used where the tree has
  // multicast hops).
  std::string multicast_address;
  // True if `node` has subscribers that want this flow.
  std::function<bool(const std::string& node)> delivers_locally;
};

// Turns one flow's tree into the forwarding entry of every node on it
// (node id → entry): its parent and the parent's link token, its children
// with their data addresses (and which are reached by LAN multicast), local
// delivery, the group's slow-receiver policy and TTL, and at the root the
// wanted members the tree misses and why. Pure: a function of its inputs,
// thread-safe as long as they do not change during the call.
// REQUIRES: every vertex of the tree names a node in `context.nodes`.
std::map<std::string, v1::FlowEntry> CompileFlowEntries(const SourceKey& key, const Flow& flow,
                                                        const TableContext& context);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_TABLE_COMPILER_H_
