#include "proto/validation.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/stripe_source.h"

namespace canopy {
namespace {

absl::Status ValidateName(absl::string_view what, absl::string_view name, size_t max_bytes,
                          absl::string_view punctuation) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", name.size(), " bytes long; the limit is ", max_bytes));
  }
  for (char c : name) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
        punctuation.find(c) != absl::string_view::npos) {
      continue;
    }
    return absl::InvalidArgumentError(absl::StrCat(what, " '", absl::CHexEscape(name),
                                                   "' has a character outside [A-Za-z0-9",
                                                   punctuation, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateGroupName(absl::string_view group) {
  return ValidateName("group name", group, kMaxGroupNameBytes, "._:/-");
}

absl::Status ValidateSourceId(absl::string_view source) {
  if (std::optional<Stripe> stripe = ParseStripe(source)) {
    return ValidateName("source id", stripe->base, kMaxIdBytes, "._:-");
  }
  return ValidateName("source id", source, kMaxIdBytes, "._:-");
}

absl::Status ValidateNodeId(absl::string_view node) {
  return ValidateName("node id", node, kMaxIdBytes, "._-");
}

absl::Status ValidateMemberName(absl::string_view member) {
  return ValidateName("member name", member, kMaxIdBytes, "._:@/-");
}

absl::Status ValidateFilter(const v1::SourceFilter& filter) {
  if (!v1::FilterMode_IsValid(filter.mode())) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter mode ", filter.mode(), " is not INCLUDE or EXCLUDE"));
  }
  if (filter.sources_size() > kMaxFilterSources) {
    return absl::InvalidArgumentError(absl::StrCat("filter lists ", filter.sources_size(),
                                                   " sources; the limit is ", kMaxFilterSources));
  }
  for (const std::string& s : filter.sources()) {
    if (absl::Status st = ValidateSourceId(s); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("filter: ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace canopy
