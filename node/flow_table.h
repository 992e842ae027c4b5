#ifndef CANOPY_NODE_FLOW_TABLE_H_
#define CANOPY_NODE_FLOW_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "canopy/v1/controller.pb.h"
#include "node/flow_state.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/traffic_counters.h"
#include "wire/queued_link.h"

namespace canopy::node {

// The link to one child node, shared by every flow that feeds it. When the
// link fails and is opened again the slot points at the new one, so the
// compiled table stays valid.
//
// Thread-safe.
class ChildSlot {
 public:
  explicit ChildSlot(std::string node_id) : node_id_(std::move(node_id)) {}
  const std::string& node_id() const { return node_id_; }
  // The current link (null before the first).
  std::shared_ptr<wire::QueuedLink> link() const { return link_.load(std::memory_order_acquire); }
  void set_link(std::shared_ptr<wire::QueuedLink> link) {
    link_.store(std::move(link), std::memory_order_release);
  }

 private:
  const std::string node_id_;
  std::atomic<std::shared_ptr<wire::QueuedLink>> link_;
};

// One flow of the forwarding table, compiled for the per-frame path:
// everything a frame needs is resolved when the table changes, so handling
// a frame copies no protobuf, formats no string and takes no node-wide
// lock. Immutable; the flow's mutable state is `state`.
struct FlowRoute {
  v1::FlowEntry entry;  // as the controller sent it
  std::shared_ptr<const FlowNames> names;
  bool realtime = false;
  // Left the table: kept a while for frames that were in flight.
  bool retired = false;
  // The group's allow-list decision for this source (OK or why not).
  absl::Status allowed;
  struct Child {
    std::shared_ptr<ChildSlot> slot;
    // Reached by this node's LAN multicast (the link carries repairs only).
    bool via_multicast = false;
  };
  std::vector<Child> children;
  // The group's local subscribers (filters are checked per frame).
  std::shared_ptr<GroupSubscribers> subscribers;
  TrafficCounters::GroupCell* counters = nullptr;
  std::shared_ptr<FlowState> state;

  uint32_t group_handle() const { return entry.group_handle(); }
  uint32_t source_id() const { return entry.source_id(); }
  const std::string& group() const { return names->group; }
  const std::string& source() const { return names->source; }
  const std::string& parent() const { return entry.parent(); }
};

// One version of the compiled forwarding table: routes by the ids frames
// carry and by names. Immutable; swapped whole when the table changes.
class FlowTable {
 public:
  static uint64_t IdKey(uint32_t group_handle, uint32_t source_id) {
    return (static_cast<uint64_t>(group_handle) << 32) | source_id;
  }

  // Adds a route; a retired one never replaces a current one.
  void Add(std::shared_ptr<const FlowRoute> route);

  // The route of the flow with these ids (current or retired), or null.
  const FlowRoute* Find(uint32_t group_handle, uint32_t source_id) const;
  // The current (not retired) route of (group, source), or null.
  const FlowRoute* Find(const std::string& group, const std::string& source) const;
  // Every route, current and retired.
  std::vector<const FlowRoute*> routes() const;

 private:
  absl::flat_hash_map<uint64_t, std::shared_ptr<const FlowRoute>> by_ids_;
  absl::flat_hash_map<std::pair<std::string, std::string>, const FlowRoute*> by_names_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_FLOW_TABLE_H_
