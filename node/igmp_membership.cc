#include "node/igmp_membership.h"

#include <algorithm>

#include "proto/source_filter.h"

namespace canopy::node {
namespace {

bool SameGroups(const std::map<uint32_t, v1::SourceFilter>& a,
                const std::map<uint32_t, v1::SourceFilter>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || i->second.SerializeAsString() != j->second.SerializeAsString()) {
      return false;
    }
  }
  return true;
}

}  // namespace

v1::SourceFilter ToSourceFilter(bool exclude, const std::set<uint32_t>& sources) {
  v1::SourceFilter f;
  f.set_mode(exclude ? v1::FILTER_MODE_EXCLUDE : v1::FILTER_MODE_INCLUDE);
  for (uint32_t s : sources) f.add_sources(FormatIpv4(s));
  return f;
}

IgmpMembership::IgmpMembership(IgmpTimers timers, std::vector<Ipv4Range> served,
                               size_t max_groups, size_t max_sources)
    : timers_(timers),
      served_(std::move(served)),
      max_groups_(max_groups),
      max_sources_(max_sources) {}

bool IgmpMembership::Serves(uint32_t group) const {
  return std::any_of(served_.begin(), served_.end(),
                     [group](const Ipv4Range& r) { return r.Contains(group); });
}

IgmpMembership::Outcome IgmpMembership::Apply(uint32_t listener, const IgmpMessage& message,
                                              absl::Time now) {
  Outcome outcome;
  const std::map<uint32_t, v1::SourceFilter> before = Groups();
  switch (message.type) {
    case IgmpType::kQuery:
      return outcome;
    case IgmpType::kV1Report:
    case IgmpType::kV2Report: {
      // An older host: EXCLUDE {} (any source).
      IgmpGroupRecord r{IgmpRecordType::kIsExclude, message.group, {}};
      ApplyRecord(listener, r, now, outcome);
      break;
    }
    case IgmpType::kV2Leave:
      if (Serves(message.group)) {
        Leave(listener, message.group, now, outcome);
      } else {
        ++outcome.ignored;
      }
      break;
    case IgmpType::kV3Report:
      for (const IgmpGroupRecord& r : message.records) ApplyRecord(listener, r, now, outcome);
      break;
  }
  outcome.changed = !SameGroups(Groups(), before);
  return outcome;
}

bool IgmpMembership::ApplyRecord(uint32_t listener, const IgmpGroupRecord& record,
                                 absl::Time now, Outcome& outcome) {
  if (!Serves(record.group)) {
    ++outcome.ignored;
    return true;
  }
  auto group_it = groups_.find(record.group);
  const bool known = group_it != groups_.end() && group_it->second.contains(listener);
  Record next = known ? group_it->second.at(listener) : Record{};
  const std::set<uint32_t> listed(record.sources.begin(), record.sources.end());
  switch (record.type) {
    case IgmpRecordType::kIsInclude:
    case IgmpRecordType::kToInclude:
      next.exclude = false;
      next.sources = listed;
      break;
    case IgmpRecordType::kIsExclude:
    case IgmpRecordType::kToExclude:
      next.exclude = true;
      next.sources = listed;
      break;
    case IgmpRecordType::kAllowNew:
      for (uint32_t s : listed) {
        if (next.exclude) {
          next.sources.erase(s);
        } else {
          next.sources.insert(s);
        }
      }
      break;
    case IgmpRecordType::kBlockOld:
      if (!known) return true;  // nothing to block
      for (uint32_t s : listed) {
        if (next.exclude) {
          next.sources.insert(s);
        } else {
          next.sources.erase(s);
        }
      }
      break;
  }
  if (!next.exclude && next.sources.empty()) {
    // INCLUDE {}: this listener leaves the group.
    if (known) Leave(listener, record.group, now, outcome);
    return true;
  }
  if (next.sources.size() > max_sources_) {
    ++outcome.refused;
    return false;
  }
  if (group_it == groups_.end() && groups_.size() >= max_groups_) {
    ++outcome.refused;
    return false;
  }
  next.expires = now + timers_.GroupMembershipInterval();
  groups_[record.group][listener] = std::move(next);
  return true;
}

void IgmpMembership::Leave(uint32_t listener, uint32_t group, absl::Time now,
                           Outcome& outcome) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return;
  auto listener_it = it->second.find(listener);
  if (listener_it != it->second.end()) {
    listener_it->second.expires =
        std::min(listener_it->second.expires, now + timers_.LastMemberQueryTime());
  }
  outcome.query_groups.push_back(group);
}

bool IgmpMembership::Expire(absl::Time now) {
  bool changed = false;
  for (auto group = groups_.begin(); group != groups_.end();) {
    for (auto l = group->second.begin(); l != group->second.end();) {
      if (l->second.expires <= now) {
        l = group->second.erase(l);
        changed = true;
      } else {
        ++l;
      }
    }
    group = group->second.empty() ? groups_.erase(group) : std::next(group);
  }
  return changed;
}

std::map<uint32_t, v1::SourceFilter> IgmpMembership::Groups() const {
  std::map<uint32_t, v1::SourceFilter> out;
  for (const auto& [group, listeners] : groups_) {
    std::vector<v1::SourceFilter> filters;
    for (const auto& [listener, record] : listeners) {
      filters.push_back(ToSourceFilter(record.exclude, record.sources));
    }
    out[group] = MergeFilters(filters);
  }
  return out;
}

std::map<uint32_t, std::map<uint32_t, v1::SourceFilter>> IgmpMembership::Listeners() const {
  std::map<uint32_t, std::map<uint32_t, v1::SourceFilter>> out;
  for (const auto& [group, listeners] : groups_) {
    for (const auto& [listener, record] : listeners) {
      out[group][listener] = ToSourceFilter(record.exclude, record.sources);
    }
  }
  return out;
}

}  // namespace canopy::node
