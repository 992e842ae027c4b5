#include "proto/source_filter.h"

#include <algorithm>
#include <set>
#include <string>

#include "base/stripe_source.h"

namespace canopy {
namespace {

bool IsInclude(const v1::SourceFilter& f) { return f.mode() == v1::FILTER_MODE_INCLUDE; }

}  // namespace

bool Admits(const v1::SourceFilter& filter, absl::string_view source) {
  const absl::string_view base = BaseSourceId(source);
  const bool listed = std::find_if(filter.sources().begin(), filter.sources().end(),
                                   [&](const std::string& listed_source) {
                                     return listed_source == source || listed_source == base;
                                   }) != filter.sources().end();
  return IsInclude(filter) ? listed : !listed;
}

bool AdmitsNothing(const v1::SourceFilter& filter) {
  return IsInclude(filter) && filter.sources().empty();
}

v1::SourceFilter MergeFilters(absl::Span<const v1::SourceFilter> filters) {
  std::set<std::string> include_union;
  std::set<std::string> exclude_intersection;
  bool any_exclude = false;
  for (const v1::SourceFilter& f : filters) {
    std::set<std::string> sources(f.sources().begin(), f.sources().end());
    if (IsInclude(f)) {
      include_union.insert(sources.begin(), sources.end());
    } else if (!any_exclude) {
      any_exclude = true;
      exclude_intersection = std::move(sources);
    } else {
      std::set<std::string> kept;
      std::set_intersection(exclude_intersection.begin(), exclude_intersection.end(),
                            sources.begin(), sources.end(), std::inserter(kept, kept.begin()));
      exclude_intersection = std::move(kept);
    }
  }
  v1::SourceFilter merged;
  if (any_exclude) {
    merged.set_mode(v1::FILTER_MODE_EXCLUDE);
    for (const std::string& s : exclude_intersection) {
      if (!include_union.count(s)) merged.add_sources(s);
    }
  } else {
    merged.set_mode(v1::FILTER_MODE_INCLUDE);
    for (const std::string& s : include_union) merged.add_sources(s);
  }
  return merged;
}

}  // namespace canopy
