#include "node/ack_tally.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace canopy::node {
namespace {

// Adds `what` to `into`, saturating: counts of a subtree never wrap.
void AddCount(uint32_t& into, uint32_t what) {
  into = what > UINT32_MAX - into ? UINT32_MAX : into + what;
}

void AddName(wire::AckSummary& s, wire::AckMissing name) {
  if (s.names.size() < wire::kMaxAckNames) s.names.push_back(std::move(name));
}

// How `child`, which left the tree, still names a receiver it named
// missing: its own receivers and those that had left or gone below it stay
// missing (kGone); the pending ones of nodes below it may live on under
// another parent, and a node it never heard from is not its to name.
std::optional<wire::AckMissing> AfterLeaving(wire::AckMissing m, const std::string& child) {
  if (m.kind == wire::AckMissingKind::kSilent) return std::nullopt;
  if (m.kind == wire::AckMissingKind::kPending) {
    if (m.node != child) return std::nullopt;
    m.kind = wire::AckMissingKind::kGone;
  }
  return m;
}

// What a child that left the tree counts for an object: those that held it
// (as receivers and acked) and those AfterLeaving keeps.
wire::AckSummary Frozen(const wire::AckSummary& last, const std::string& child) {
  wire::AckSummary s;
  s.object_id = last.object_id;
  s.receivers = last.acked;
  s.acked = last.acked;
  for (const wire::AckMissing& m : last.names) {
    if (std::optional<wire::AckMissing> kept = AfterLeaving(m, child)) s.names.push_back(*kept);
  }
  s.missing = static_cast<uint32_t>(s.names.size());
  return s;
}

}  // namespace

AckTally::AckTally(std::string node_id, size_t max_objects, absl::Duration departed_for)
    : node_id_(std::move(node_id)),
      max_objects_(std::max<size_t>(1, max_objects)),
      departed_for_(departed_for) {}

void AckTally::AddDeparted(Departed d) {
  departed_.push_back(std::move(d));
  if (departed_.size() > kMaxDeparted) departed_.erase(departed_.begin());
}

bool AckTally::SetReceivers(std::vector<AckReceiver> receivers, absl::Time now) {
  if (receivers == receivers_) return false;
  for (const AckReceiver& old : receivers_) {
    const bool stays = std::any_of(receivers.begin(), receivers.end(),
                                   [&](const AckReceiver& r) { return r.id == old.id; });
    if (!stays) {
      AddDeparted({now, old.id, "", {{node_id_, old.member, wire::AckMissingKind::kLeft}}, 1});
    }
  }
  // One that is back under its name is no longer missing as departed.
  std::erase_if(departed_, [&](const Departed& d) {
    return d.receiver_id != 0 &&
           std::any_of(receivers.begin(), receivers.end(),
                       [&](const AckReceiver& r) { return r.member == d.names[0].member; });
  });
  receivers_ = std::move(receivers);
  return true;
}

bool AckTally::SetChildren(std::vector<std::string> children, absl::Time now) {
  if (children == children_) return false;
  auto listed = [](const std::vector<std::string>& in, const std::string& child) {
    return std::find(in.begin(), in.end(), child) != in.end();
  };
  for (const std::string& old : children_) {
    if (listed(children, old)) continue;
    // Its own receivers as its last roster named them (nodes below it may
    // live on under another parent); the node alone if it named none.
    Departed d{now, 0, old, {}, 1};
    auto roster = rosters_.find(old);
    if (roster != rosters_.end()) {
      for (const wire::AckMissing& m : roster->second.names) {
        if (std::optional<wire::AckMissing> kept = AfterLeaving(m, old)) d.names.push_back(*kept);
      }
    }
    if (d.names.empty()) d.names.push_back({old, "", wire::AckMissingKind::kGone});
    d.count = static_cast<uint32_t>(d.names.size());
    AddDeparted(std::move(d));
  }
  std::erase_if(departed_, [&](const Departed& d) {
    return d.receiver_id == 0 && listed(children, d.child);
  });
  children_ = std::move(children);
  auto gone = [&](const std::string& child) { return !listed(children_, child); };
  absl::erase_if(rosters_, [&](const auto& kv) { return gone(kv.first); });
  for (auto& [id, object] : objects_) {
    for (const auto& [child, last] : object.children) {
      if (gone(child)) object.gone[child] = Frozen(last, child);
    }
    absl::erase_if(object.children, [&](const auto& kv) { return gone(kv.first); });
    // One that is back speaks for itself again.
    absl::erase_if(object.gone, [&](const auto& kv) { return !gone(kv.first); });
  }
  return true;
}

AckTally::Object& AckTally::ObjectFor(uint64_t object_id, absl::Time now) {
  auto [it, inserted] = objects_.try_emplace(object_id);
  if (inserted) {
    it->second.order = next_order_++;
    if (objects_.size() > max_objects_) {
      auto oldest = objects_.end();
      for (auto o = objects_.begin(); o != objects_.end(); ++o) {
        if (o->first != object_id && (oldest == objects_.end() || o->second.order < oldest->second.order)) {
          oldest = o;
        }
      }
      objects_.erase(oldest);
      it = objects_.find(object_id);
    }
  }
  it->second.touched = now;
  return it->second;
}

bool AckTally::Ack(const AckReceiver& who, uint64_t object_id, absl::Time now) {
  if (object_id == 0) return false;
  Object& o = ObjectFor(object_id, now);
  return o.local.emplace(who.id, who.member).second;
}

bool AckTally::OnChildSummary(const std::string& child, wire::AckSummary summary,
                              absl::Time now) {
  if (std::find(children_.begin(), children_.end(), child) == children_.end()) return false;
  if (summary.object_id == 0) {
    summary.acked = 0;  // a roster acknowledges nothing
    auto [it, inserted] = rosters_.try_emplace(child, summary);
    if (!inserted && it->second == summary) return false;
    it->second = std::move(summary);
    return true;
  }
  Object& o = ObjectFor(summary.object_id, now);
  auto [it, inserted] = o.children.try_emplace(child, summary);
  if (!inserted && it->second == summary) return false;
  it->second = std::move(summary);
  return true;
}

wire::AckSummary AckTally::Summarize(uint64_t object_id) const {
  wire::AckSummary s;
  s.object_id = object_id;
  const auto object = object_id == 0 ? objects_.end() : objects_.find(object_id);
  const Object* o = object == objects_.end() ? nullptr : &object->second;
  for (const AckReceiver& r : receivers_) {
    AddCount(s.receivers, 1);
    if (o != nullptr && o->local.contains(r.id)) {
      AddCount(s.acked, 1);
    } else {
      AddCount(s.missing, 1);
      AddName(s, {node_id_, r.member, wire::AckMissingKind::kPending});
    }
  }
  if (o != nullptr) {
    for (const auto& [id, member] : o->local) {
      const bool present = std::any_of(receivers_.begin(), receivers_.end(),
                                       [id = id](const AckReceiver& r) { return r.id == id; });
      if (present) continue;
      AddCount(s.receivers, 1);  // held it, then left
      AddCount(s.acked, 1);
    }
  }
  for (const std::string& child : children_) {
    const wire::AckSummary* said = nullptr;
    if (o != nullptr) {
      auto it = o->children.find(child);
      if (it != o->children.end()) said = &it->second;
    }
    if (said == nullptr) {
      auto it = rosters_.find(child);
      if (it != rosters_.end()) said = &it->second;
    }
    if (said == nullptr) {
      AddCount(s.missing, 1);
      AddName(s, {child, "", wire::AckMissingKind::kSilent});
      continue;
    }
    AddCount(s.receivers, said->receivers);
    AddCount(s.acked, said->acked);
    AddCount(s.missing, said->missing);
    for (const wire::AckMissing& m : said->names) AddName(s, m);
  }
  if (o != nullptr) {
    for (const auto& [child, frozen] : o->gone) {
      AddCount(s.receivers, frozen.receivers);
      AddCount(s.acked, frozen.acked);
      AddCount(s.missing, frozen.missing);
      for (const wire::AckMissing& m : frozen.names) AddName(s, m);
    }
  }
  for (const Departed& d : departed_) {
    if (o != nullptr && d.receiver_id != 0 && o->local.contains(d.receiver_id)) continue;
    if (o != nullptr && d.receiver_id == 0 && o->gone.contains(d.child)) continue;
    AddCount(s.missing, d.count);
    for (const wire::AckMissing& m : d.names) AddName(s, m);
  }
  return s;
}

bool AckTally::Complete(uint64_t object_id) const {
  auto object = objects_.find(object_id);
  for (const std::string& child : children_) {
    const bool spoke = object_id == 0 ? rosters_.contains(child)
                                      : object != objects_.end() &&
                                            object->second.children.contains(child);
    if (!spoke) return false;
  }
  return object_id == 0 || Summarize(object_id).missing == 0;
}

std::vector<uint64_t> AckTally::Objects() const {
  std::vector<std::pair<uint64_t, uint64_t>> by_order;
  for (const auto& [id, o] : objects_) by_order.emplace_back(o.order, id);
  std::sort(by_order.begin(), by_order.end());
  std::vector<uint64_t> out;
  for (const auto& [order, id] : by_order) out.push_back(id);
  return out;
}

std::vector<uint64_t> AckTally::ObjectsSince(absl::Time since) const {
  std::vector<uint64_t> out;
  for (uint64_t id : Objects()) {
    if (objects_.at(id).touched >= since) out.push_back(id);
  }
  return out;
}

bool AckTally::ForgetIdle(absl::Time before, absl::Time now) {
  absl::erase_if(objects_, [&](const auto& kv) { return kv.second.touched < before; });
  const size_t departed = departed_.size();
  std::erase_if(departed_, [&](const Departed& d) { return d.when + departed_for_ <= now; });
  return departed_.size() != departed;
}

}  // namespace canopy::node
