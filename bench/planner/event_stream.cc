#include "bench/planner/event_stream.h"

#include <algorithm>

namespace canopy::bench {

MembershipModel::MembershipModel(int nodes, int groups)
    : groups_of_(static_cast<size_t>(nodes)), members_of_(static_cast<size_t>(groups)) {}

void MembershipModel::Populate(int members, Random& random) {
  for (int g = 0; g < group_count(); ++g) {
    // Partial Fisher–Yates over the node indices.
    std::vector<int> nodes(static_cast<size_t>(node_count()));
    for (int i = 0; i < node_count(); ++i) nodes[i] = i;
    for (int i = 0; i < members; ++i) {
      const int j = i + static_cast<int>(random.Uniform(static_cast<uint64_t>(node_count() - i)));
      std::swap(nodes[i], nodes[j]);
      if (!IsMember(nodes[i], g)) Apply({nodes[i], g, true});
    }
  }
}

void MembershipModel::Apply(const MembershipEvent& event) {
  std::vector<int>& members = members_of_[event.group];
  if (event.join) {
    groups_of_[event.node].insert(event.group);
    members.push_back(event.node);
    return;
  }
  groups_of_[event.node].erase(event.group);
  auto it = std::find(members.begin(), members.end(), event.node);
  if (it != members.end()) {
    *it = members.back();
    members.pop_back();
  }
}

EventStream::EventStream(const MembershipModel& model, int target, uint64_t seed)
    : model_(model), target_(target), random_(seed) {}

MembershipEvent EventStream::Next() {
  const int group = static_cast<int>(random_.Uniform(static_cast<uint64_t>(model_.group_count())));
  const std::vector<int>& members = model_.MembersOf(group);
  const int size = static_cast<int>(members.size());
  bool join = size < target_ || (size == target_ && (random_.Next() & 1) != 0);
  if (size == 0) join = true;
  if (size == model_.node_count()) join = false;
  if (!join) {
    return {members[random_.Uniform(members.size())], group, false};
  }
  // Rejection sampling: groups are small next to the overlay.
  for (;;) {
    const int node = static_cast<int>(random_.Uniform(static_cast<uint64_t>(model_.node_count())));
    if (!model_.IsMember(node, group)) return {node, group, true};
  }
}

}  // namespace canopy::bench
