#include "controller/policy_file.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "canopy/v1/controller.pb.h"
#include "controller/policy_validation.h"
#include "google/protobuf/util/json_util.h"

namespace canopy::controller {

absl::StatusOr<std::vector<v1::GroupPolicy>> ParsePolicyFile(absl::string_view json) {
  if (json.size() > kMaxPolicyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("policies file of ", json.size(),
                                                   " bytes; the limit is ", kMaxPolicyFileBytes));
  }
  v1::PolicyUpdate update;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(std::string(json), &update, options);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a policies JSON object: ", s.ToString()));
  }
  std::set<std::string> groups;
  std::vector<v1::GroupPolicy> policies;
  for (int i = 0; i < update.policies_size(); ++i) {
    const v1::GroupPolicy& policy = update.policies(i);
    if (absl::Status s = ValidatePolicy(policy); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("policies[", i, "]: ", s.message()));
    }
    if (!groups.insert(policy.group()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("policies[", i, "]: group '", policy.group(), "' given twice"));
    }
    policies.push_back(policy);
  }
  return policies;
}

}  // namespace canopy::controller
