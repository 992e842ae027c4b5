#ifndef CANOPY_CONTROLLER_POLICY_FILE_H_
#define CANOPY_CONTROLLER_POLICY_FILE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/v1/common.pb.h"

namespace canopy::controller {

// Largest policies file accepted, in bytes.
inline constexpr size_t kMaxPolicyFileBytes = 4 << 20;

// Parses a policies file (`canopy-controller --policies FILE`): protobuf
// JSON of canopy.v1.PolicyUpdate, i.e.
//   {"policies": [{"group": "training/ckpt", "allowed_sources": ["trainer"],
//                  "profile": "TREE_PROFILE_COST", "ttl": 4,
//                  "slow_receiver": "SLOW_RECEIVER_REALTIME"}, …]}
// (field names as in the .proto or in lowerCamelCase; the objects are what
// `canopyctl policy get G --format json` prints). Unknown fields, an invalid
// policy (ValidatePolicy) or a group given twice give InvalidArgument naming
// the problem.
absl::StatusOr<std::vector<v1::GroupPolicy>> ParsePolicyFile(absl::string_view json);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_POLICY_FILE_H_
