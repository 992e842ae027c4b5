#ifndef CANOPY_NODE_EDGE_REPORT_H_
#define CANOPY_NODE_EDGE_REPORT_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "canopy/v1/controller.pb.h"
#include "node/flow_states.h"
#include "wire/queued_link.h"

namespace canopy::node {

// The most flows and links one traffic report lists (the controller refuses
// more); beyond them, flows and links in name order are left out.
inline constexpr size_t kMaxTrafficFlows = 10000;
inline constexpr size_t kMaxTrafficLinks = 1024;

// The node's traffic report for the controller (TrafficReport, at most one
// a second): per flow it carries, the sequence and payload bytes handed on
// in order and the repairs asked of its parent; per link to a child, what
// is queued and what was dropped. Reads each flow's lock briefly, one flow
// at a time; never blocks on a peer. Flows and links in name order.
v1::TrafficReport BuildTrafficReport(const FlowStates& flows,
                                     const std::vector<std::shared_ptr<wire::QueuedLink>>& links);

}  // namespace canopy::node

#endif  // CANOPY_NODE_EDGE_REPORT_H_
