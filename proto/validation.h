#ifndef CANOPY_PROTO_VALIDATION_H_
#define CANOPY_PROTO_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "canopy/v1/common.pb.h"

namespace canopy {

// Limits that the contracts in canopy/v1/*.proto document.
inline constexpr size_t kMaxGroupNameBytes = 128;
inline constexpr size_t kMaxIdBytes = 64;
inline constexpr int kMaxFilterSources = 1024;

// OK if `group` is 1..128 bytes of [A-Za-z0-9._:/-]; else InvalidArgument
// naming the problem.
absl::Status ValidateGroupName(absl::string_view group);

// OK if `source` is 1..64 bytes of [A-Za-z0-9._:-], or such an id with a
// stripe suffix "#<index>/<count>" (base/stripe_source.h).
absl::Status ValidateSourceId(absl::string_view source);

// OK if `node` is 1..64 bytes of [A-Za-z0-9._-].
absl::Status ValidateNodeId(absl::string_view node);

// OK if `member` (SubscribeRequest.member) is 1..64 bytes of
// [A-Za-z0-9._:@/-].
absl::Status ValidateMemberName(absl::string_view member);

// OK if the filter's mode is known and it names at most 1024 valid sources.
absl::Status ValidateFilter(const v1::SourceFilter& filter);

}  // namespace canopy

#endif  // CANOPY_PROTO_VALIDATION_H_
