#ifndef CANOPY_BENCH_PLANNER_EVENT_STREAM_H_
#define CANOPY_BENCH_PLANNER_EVENT_STREAM_H_

#include <cstdint>
#include <set>
#include <vector>

#include "bench/planner/random.h"

namespace canopy::bench {

// One membership change: `node` joins or leaves `group` (indices).
struct MembershipEvent {
  int node = 0;
  int group = 0;
  bool join = false;
};

// Who is a member of what: node → groups and group → member nodes, kept in
// step. Indices are 0..nodes-1 and 0..groups-1.
//
// Thread-compatible.
class MembershipModel {
 public:
  MembershipModel(int nodes, int groups);

  // `members` distinct random nodes per group.
  // REQUIRES: 0 < members <= nodes.
  void Populate(int members, Random& random);

  // Applies the event. REQUIRES: a join names a non-member, a leave a member.
  void Apply(const MembershipEvent& event);

  int node_count() const { return static_cast<int>(groups_of_.size()); }
  int group_count() const { return static_cast<int>(members_of_.size()); }
  const std::set<int>& GroupsOf(int node) const { return groups_of_[node]; }
  const std::vector<int>& MembersOf(int group) const { return members_of_[group]; }
  bool IsMember(int node, int group) const { return groups_of_[node].contains(group); }

 private:
  std::vector<std::set<int>> groups_of_;
  std::vector<std::vector<int>> members_of_;  // unordered
};

// An endless, seeded stream of join/leave events that keeps group sizes
// around `target`: a random group is picked; it loses a random member when
// above target, gains a random non-member when below, and either (coin
// flip) when at target. Events are generated against `model` but not
// applied to it: the caller applies each one before asking for the next.
//
// Thread-compatible.
class EventStream {
 public:
  // REQUIRES: 0 < target < model.node_count(); `model` outlives the stream.
  EventStream(const MembershipModel& model, int target, uint64_t seed);

  MembershipEvent Next();

 private:
  const MembershipModel& model_;
  const int target_;
  Random random_;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_EVENT_STREAM_H_
