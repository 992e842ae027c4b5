#include "cli/names.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace canopy::cli {

std::string ProfileName(v1::TreeProfile profile) {
  switch (profile) {
    case v1::TREE_PROFILE_UNSPECIFIED:
    case v1::TREE_PROFILE_LATENCY:
      return "latency";
    case v1::TREE_PROFILE_COST:
      return "cost";
    case v1::TREE_PROFILE_BULK:
      return "bulk";
    default:
      return absl::StrCat("profile(", static_cast<int>(profile), ")");
  }
}

absl::StatusOr<v1::TreeProfile> ParseProfile(absl::string_view name) {
  if (name == "latency") return v1::TREE_PROFILE_LATENCY;
  if (name == "cost") return v1::TREE_PROFILE_COST;
  if (name == "bulk") return v1::TREE_PROFILE_BULK;
  return absl::InvalidArgumentError(
      absl::StrCat("--profile must be latency, cost or bulk, not \"", name, "\""));
}

std::string SlowReceiverName(v1::SlowReceiverPolicy policy) {
  switch (policy) {
    case v1::SLOW_RECEIVER_UNSPECIFIED:
    case v1::SLOW_RECEIVER_RELIABLE:
      return "reliable";
    case v1::SLOW_RECEIVER_REALTIME:
      return "realtime";
    default:
      return absl::StrCat("slow_receiver(", static_cast<int>(policy), ")");
  }
}

absl::StatusOr<v1::SlowReceiverPolicy> ParseSlowReceiver(absl::string_view name) {
  if (name == "reliable") return v1::SLOW_RECEIVER_RELIABLE;
  if (name == "realtime") return v1::SLOW_RECEIVER_REALTIME;
  return absl::InvalidArgumentError(
      absl::StrCat("--slow must be reliable or realtime, not \"", name, "\""));
}

std::string FilterModeName(v1::FilterMode mode) {
  switch (mode) {
    case v1::FILTER_MODE_INCLUDE:
      return "INCLUDE";
    case v1::FILTER_MODE_UNSPECIFIED:
    case v1::FILTER_MODE_EXCLUDE:
      return "EXCLUDE";
    default:
      return absl::StrCat("mode(", static_cast<int>(mode), ")");
  }
}

}  // namespace canopy::cli
