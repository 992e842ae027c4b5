#ifndef CANOPY_CLI_POLICY_EDIT_H_
#define CANOPY_CLI_POLICY_EDIT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "canopy/v1/common.pb.h"

namespace canopy::cli {

// The raw flags of `canopyctl policy set`, as typed; nullopt = flag not
// given (that part of the policy stays as it is).
struct PolicyFlags {
  std::optional<std::string> allow;  // "S1,S2,..."; "" clears the allow-list
  std::optional<std::string> profile;
  std::optional<std::string> ttl;
  std::optional<std::string> slow;
};

// A validated change to a group's policy; nullopt members leave the policy's
// field unchanged.
struct PolicyEdit {
  std::optional<std::vector<std::string>> allowed_sources;
  std::optional<v1::TreeProfile> profile;
  std::optional<uint32_t> ttl;
  std::optional<v1::SlowReceiverPolicy> slow_receiver;
};

// Validates the flags without contacting anybody: --allow blank (allow
// anyone) or a list of valid source ids (whitespace around entries is
// trimmed, duplicates are dropped, an empty entry such as in "a,,b" or
// ",,," is refused), --profile a known profile,
// --ttl an integer 1..255, --slow a known policy. At least one flag must be
// given. Returns InvalidArgument with a one-line message naming the flag.
absl::StatusOr<PolicyEdit> ParsePolicyFlags(const PolicyFlags& flags);

// Applies `edit` to `policy` (read-modify-write): only the fields the edit
// carries change; the group name is left alone.
void ApplyPolicyEdit(const PolicyEdit& edit, v1::GroupPolicy& policy);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_POLICY_EDIT_H_
