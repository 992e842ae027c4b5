#ifndef CANOPY_CLI_RENDER_TEXT_H_
#define CANOPY_CLI_RENDER_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::cli {

// Text renderings of canopyctl. Pure functions: deterministic for a given
// message, never fail; malformed input (cycles, edges that do not hang off
// the root) is shown, not trusted. Every result ends with a newline.

// The group's trees, one block per source, in the order of the response,
// separated by a blank line; each reads like `tree(1)`:
//
//   group g  source trainer  (latency, total cost 200 µs, 2 receivers)
//   node-a  [ingress]  (fan-out 1/1)
//   └── node-b  (cost 120 µs, fan-out 1/2)  [receiver]
//       └── node-c  (cost 80 µs, fan-out 0/∞)  [receiver]
//
// Children in name order; "∞" means no fan-out limit. Edges not reachable
// from the root are listed after the tree.
std::string RenderTreeText(const v1::GetTreeResponse& response);

// One line per member node, in node order, e.g. "node-b  EXCLUDE {}" with
// the node column padded to the longest id.
std::string RenderMembersText(const v1::ListMembersResponse& response);

// The policy, one "field  value" line per field (defaults marked).
std::string RenderPolicyText(const v1::GroupPolicy& policy);

// Every ControllerStats field, one "name  value" line each, in field
// order, names as in the .proto (and the JSON); booleans as yes/no, an
// empty string as "-".
std::string RenderStatsText(const v1::ControllerStats& stats);

// `canopyctl status`: the leader and its term, the build, the store in use
// and whether it answers, the replicas, and each etcd endpoint's health.
std::string RenderStatusText(const v1::ControllerStatus& status);

// A table of the attached nodes with a header line.
std::string RenderNodesText(const v1::ListNodesResponse& response);

// A table of the groups with a header line.
std::string RenderGroupsText(const v1::ListGroupsResponse& response);

// `time` in UTC as RFC 3339 with milliseconds: 2025-01-02T03:04:05.678Z.
std::string FormatTimestamp(absl::Time time);

// The header line `canopyctl watch` prints before each rendering:
// "=== 2025-01-02T03:04:05.678Z  group g  update 3\n".
std::string RenderWatchHeader(absl::Time time, absl::string_view group, int update);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_RENDER_TEXT_H_
