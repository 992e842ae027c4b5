#ifndef CANOPY_CLI_NAMES_H_
#define CANOPY_CLI_NAMES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/v1/common.pb.h"

namespace canopy::cli {

// The operator-facing names of the contract's enums, as canopyctl prints and
// accepts them: profiles "latency", "cost", "bulk"; slow-receiver policies
// "reliable", "realtime"; filter modes "INCLUDE", "EXCLUDE".

// The name of `profile`; UNSPECIFIED reads "latency" (the contract's
// default). Unknown values (a newer controller) read "profile(N)".
std::string ProfileName(v1::TreeProfile profile);

// Parses "latency", "cost" or "bulk"; InvalidArgument naming the accepted
// values otherwise.
absl::StatusOr<v1::TreeProfile> ParseProfile(absl::string_view name);

// The name of `policy`; UNSPECIFIED reads "reliable" (the contract's
// default). Unknown values read "slow_receiver(N)".
std::string SlowReceiverName(v1::SlowReceiverPolicy policy);

// Parses "reliable" or "realtime"; InvalidArgument otherwise.
absl::StatusOr<v1::SlowReceiverPolicy> ParseSlowReceiver(absl::string_view name);

// "INCLUDE" or "EXCLUDE"; UNSPECIFIED reads "EXCLUDE" (the contract treats
// it so). Unknown values read "mode(N)".
std::string FilterModeName(v1::FilterMode mode);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_NAMES_H_
