#ifndef CANOPY_CONTROLLER_REPORT_VALIDATION_H_
#define CANOPY_CONTROLLER_REPORT_VALIDATION_H_

#include "absl/status/status.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

// The most entries one report may list (a node's groups, its local
// sources, the peers it measured). A report beyond them is refused.
inline constexpr int kMaxReportedGroups = 10000;
inline constexpr int kMaxReportedSources = 10000;
inline constexpr int kMaxReportedRtts = 1024;

// The checks the Attach stream applies to each part of a node's report
// before the controller acts on it. Each returns InvalidArgument naming the
// bad field, or OK.

// Node id, data and client addresses.
absl::Status ValidateHello(const v1::NodeHello& hello);
// Group names and IGMPv3 filters.
absl::Status ValidateMembership(const v1::MembershipReport& report);
// Group names and source ids.
absl::Status ValidateSources(const v1::SourceReport& report);
// Peer ids, and RTTs no larger than a static link's cost may be
// (kMaxStaticLinkCostUs): they become link costs, and path sums must not
// overflow.
absl::Status ValidateRtts(const v1::RttReport& report);
// Node ids, at most kMaxReportedRtts of them.
absl::Status ValidateMulticastPeers(const v1::MulticastPeers& report);
// Group names and source ids of at most kMaxReportedSources flows, node ids
// of at most kMaxReportedRtts links.
absl::Status ValidateTraffic(const v1::TrafficReport& report);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_REPORT_VALIDATION_H_
