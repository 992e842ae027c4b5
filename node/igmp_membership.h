#ifndef CANOPY_NODE_IGMP_MEMBERSHIP_H_
#define CANOPY_NODE_IGMP_MEMBERSHIP_H_

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/time/time.h"
#include "canopy/v1/common.pb.h"
#include "node/igmp_packet.h"
#include "node/native_scope.h"

namespace canopy::node {

// The timers of RFC 3376 §8 a router keeps (defaults as there).
struct IgmpTimers {
  int robustness = 2;
  absl::Duration query_interval = absl::Seconds(125);
  absl::Duration query_response_interval = absl::Seconds(10);
  absl::Duration last_member_query_interval = absl::Seconds(1);

  // §8.4: how long a listener's state lasts without a report.
  absl::Duration GroupMembershipInterval() const {
    return robustness * query_interval + query_response_interval;
  }
  // §8.5: how long another querier silences this one.
  absl::Duration OtherQuerierPresentInterval() const {
    return robustness * query_interval + query_response_interval / 2;
  }
  // §8.14 (Last Member Query Count = robustness): how long a listener that
  // left is still served, in case another listener of the group is silent.
  absl::Duration LastMemberQueryTime() const { return robustness * last_member_query_interval; }
};

// What the LAN's listeners want, learned from their IGMP reports, as an
// IGMP router (RFC 3376 §6) with explicit tracking: state per (group,
// listener) with the listener's own filter; a group's filter is the merge
// of its listeners' (RFC 3376 §3.2), with sources as dotted quads (Canopy
// source ids of legacy senders). A listener's state lasts the Group
// Membership Interval after its last report; one that leaves (IGMPv2 leave,
// a record that leaves it INCLUDE {}) is kept for the Last Member Query Time
// so that a silent listener of the same group (IGMPv2 hosts suppress their
// reports) can answer the group-specific query the caller sends.
//
// Bounded: at most `max_groups` groups and `max_sources` sources per
// listener record; the excess is refused and counted.
//
// Thread-compatible; no I/O, the caller passes the time.
class IgmpMembership {
 public:
  IgmpMembership(IgmpTimers timers, std::vector<Ipv4Range> served, size_t max_groups,
                 size_t max_sources);

  struct Outcome {
    bool changed = false;               // some group's merged filter changed
    std::vector<uint32_t> query_groups;  // groups to send group-specific queries for
    uint64_t refused = 0;                // records refused for the bounds
    uint64_t ignored = 0;                // records of groups outside the served ranges
  };

  // Applies a report or leave from `listener` (its IPv4 address). Queries
  // change nothing.
  Outcome Apply(uint32_t listener, const IgmpMessage& message, absl::Time now);

  // Drops listener state whose timer ran out. True if a merged filter
  // changed.
  bool Expire(absl::Time now);

  // The groups with listeners and their merged filters.
  std::map<uint32_t, v1::SourceFilter> Groups() const;

  // Each group's listeners and their own filters (for inspection).
  std::map<uint32_t, std::map<uint32_t, v1::SourceFilter>> Listeners() const;

  bool Serves(uint32_t group) const;
  const IgmpTimers& timers() const { return timers_; }

 private:
  struct Record {
    bool exclude = false;
    std::set<uint32_t> sources;
    absl::Time expires;
  };
  // Applies one group record of `listener`. Returns false if refused.
  bool ApplyRecord(uint32_t listener, const IgmpGroupRecord& record, absl::Time now,
                   Outcome& outcome);
  // Puts `listener`'s record of `group` on the leave timer and asks for a
  // query.
  void Leave(uint32_t listener, uint32_t group, absl::Time now, Outcome& outcome);

  const IgmpTimers timers_;
  const std::vector<Ipv4Range> served_;
  const size_t max_groups_;
  const size_t max_sources_;
  std::map<uint32_t, std::map<uint32_t, Record>> groups_;  // group → listener → record
};

// The v1::SourceFilter of an IGMP filter: mode and dotted-quad sources.
v1::SourceFilter ToSourceFilter(bool exclude, const std::set<uint32_t>& sources);

}  // namespace canopy::node

#endif  // CANOPY_NODE_IGMP_MEMBERSHIP_H_
