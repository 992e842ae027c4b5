#ifndef CANOPY_CONTROLLER_POLICY_VALIDATION_H_
#define CANOPY_CONTROLLER_POLICY_VALIDATION_H_

#include "absl/status/status.h"
#include "canopy/v1/common.pb.h"

namespace canopy::controller {

// OK if `policy` may be stored: a valid group name, at most 1024 valid
// allowed sources, a known tree profile and slow-receiver policy, a TTL of
// at most 255. InvalidArgument naming the problem otherwise.
absl::Status ValidatePolicy(const v1::GroupPolicy& policy);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_POLICY_VALIDATION_H_
