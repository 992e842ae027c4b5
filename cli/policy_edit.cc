#include "cli/policy_edit.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/names.h"
#include "proto/validation.h"

namespace canopy::cli {

absl::StatusOr<PolicyEdit> ParsePolicyFlags(const PolicyFlags& flags) {
  if (!flags.allow && !flags.profile && !flags.ttl && !flags.slow) {
    return absl::InvalidArgumentError(
        "policy set needs at least one of --allow, --profile, --ttl, --slow");
  }
  PolicyEdit edit;
  // Blank clears the allow-list; otherwise every entry names a source.
  if (flags.allow && !absl::StripAsciiWhitespace(*flags.allow).empty()) {
    std::vector<std::string> sources;
    for (absl::string_view piece : absl::StrSplit(*flags.allow, ',')) {
      piece = absl::StripAsciiWhitespace(piece);
      if (piece.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--allow '", *flags.allow,
                         "' has an empty entry; name sources, or give '' to allow anyone"));
      }
      if (absl::Status s = ValidateSourceId(piece); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--allow: ", s.message()));
      }
      if (std::find(sources.begin(), sources.end(), piece) == sources.end()) {
        sources.emplace_back(piece);
      }
    }
    if (static_cast<int>(sources.size()) > kMaxFilterSources) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allow names ", sources.size(), " sources; at most ", kMaxFilterSources));
    }
    edit.allowed_sources = std::move(sources);
  } else if (flags.allow) {
    edit.allowed_sources = std::vector<std::string>();
  }
  if (flags.profile) {
    absl::StatusOr<v1::TreeProfile> profile = ParseProfile(*flags.profile);
    if (!profile.ok()) return profile.status();
    edit.profile = *profile;
  }
  if (flags.ttl) {
    uint32_t ttl = 0;
    if (!absl::SimpleAtoi(*flags.ttl, &ttl) || ttl < 1 || ttl > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ttl must be an integer from 1 to 255, not \"", *flags.ttl, "\""));
    }
    edit.ttl = ttl;
  }
  if (flags.slow) {
    absl::StatusOr<v1::SlowReceiverPolicy> slow = ParseSlowReceiver(*flags.slow);
    if (!slow.ok()) return slow.status();
    edit.slow_receiver = *slow;
  }
  return edit;
}

void ApplyPolicyEdit(const PolicyEdit& edit, v1::GroupPolicy& policy) {
  if (edit.allowed_sources) {
    policy.clear_allowed_sources();
    for (const std::string& s : *edit.allowed_sources) policy.add_allowed_sources(s);
  }
  if (edit.profile) policy.set_profile(*edit.profile);
  if (edit.ttl) policy.set_ttl(*edit.ttl);
  if (edit.slow_receiver) policy.set_slow_receiver(*edit.slow_receiver);
}

}  // namespace canopy::cli
