#include "controller/policy_validation.h"

#include "absl/strings/str_cat.h"
#include "proto/validation.h"

namespace canopy::controller {

absl::Status ValidatePolicy(const v1::GroupPolicy& policy) {
  if (absl::Status s = ValidateGroupName(policy.group()); !s.ok()) return s;
  if (policy.allowed_sources_size() > kMaxFilterSources) {
    return absl::InvalidArgumentError(absl::StrCat("allow-list of ", policy.allowed_sources_size(),
                                                   " sources; the limit is ", kMaxFilterSources));
  }
  for (const std::string& source : policy.allowed_sources()) {
    if (absl::Status s = ValidateSourceId(source); !s.ok()) return s;
  }
  if (!v1::TreeProfile_IsValid(policy.profile())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown tree profile ", policy.profile()));
  }
  if (!v1::SlowReceiverPolicy_IsValid(policy.slow_receiver())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown slow-receiver policy ", policy.slow_receiver()));
  }
  if (policy.ttl() > 255) {
    return absl::InvalidArgumentError(absl::StrCat("ttl ", policy.ttl(), " is above 255"));
  }
  return absl::OkStatus();
}

}  // namespace canopy::controller
