#ifndef CANOPY_CONTROLLER_TRAFFIC_TOP_H_
#define CANOPY_CONTROLLER_TRAFFIC_TOP_H_

#include <cstddef>
#include <vector>

#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

// The answer to GetTop from the trees of every group, each annotated with
// traffic (EdgeRates::Annotate): node-to-node links with the traffic of
// every flow that uses them summed, busiest first; and every receiver of
// every flow, lagging ones first, then by lag in messages, then by the
// lowest rate. At most `limit` of each. Edges and receivers without
// traffic are left out. Pure: deterministic for its input.
v1::TopResponse RankTraffic(const std::vector<v1::GetTreeResponse>& groups, size_t limit);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_TRAFFIC_TOP_H_
