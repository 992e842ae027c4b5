#ifndef CANOPY_PROTO_SOURCE_FILTER_H_
#define CANOPY_PROTO_SOURCE_FILTER_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "canopy/v1/common.pb.h"

namespace canopy {

// IGMPv3 source-filter semantics (RFC 3376) over v1::SourceFilter.

// True if `filter` lets `source` through: INCLUDE lists it, or EXCLUDE (or
// UNSPECIFIED) does not. A stripe "<base>#i/k" counts as listed when its
// base or its own id is listed.
bool Admits(const v1::SourceFilter& filter, absl::string_view source);

// Merges the filters of several subscribers of one group into the filter of
// the interface (RFC 3376 §3.2): if any is EXCLUDE, the result is EXCLUDE of
// the intersection of the EXCLUDE lists minus the union of the INCLUDE lists;
// otherwise INCLUDE of the union. An empty span gives INCLUDE {} (no
// interest). The result's source list is sorted and free of duplicates.
v1::SourceFilter MergeFilters(absl::Span<const v1::SourceFilter> filters);

// True if the filter admits no source at all (INCLUDE {}).
bool AdmitsNothing(const v1::SourceFilter& filter);

}  // namespace canopy

#endif  // CANOPY_PROTO_SOURCE_FILTER_H_
