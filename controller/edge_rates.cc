#include "controller/edge_rates.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace canopy::controller {
namespace {

// Two reports closer than this do not make an interval to take a rate
// over: the newer one replaces the older.
constexpr absl::Duration kMinInterval = absl::Milliseconds(200);

// The flow's sequence at `t` (no later than the newest sample), taken back
// along the last interval at its rate.
double SequenceAt(double messages_per_s, absl::Time t, absl::Time last_at, uint64_t last_sequence) {
  if (t >= last_at || messages_per_s <= 0) return static_cast<double>(last_sequence);
  const double back = messages_per_s * absl::ToDoubleSeconds(last_at - t);
  return std::max(0.0, static_cast<double>(last_sequence) - back);
}

}  // namespace

EdgeRates::EdgeRates(EdgeRatesOptions options) : options_(options) {}

void EdgeRates::Record(uint64_t session, const std::string& node, const v1::TrafficReport& report,
                       absl::Time now) {
  absl::MutexLock lock(&mu_);
  NodeTraffic& n = nodes_[node];
  if (n.session != session) {
    n = NodeTraffic{};
    n.session = session;
  }
  n.reported = now;
  std::map<FlowKey, FlowHistory> flows;
  for (const v1::FlowTraffic& f : report.flows()) {
    const FlowKey key{f.group(), f.source()};
    const Sample sample{now, f.sequence(), f.bytes()};
    // A flow new here, or whose state began again (counters went back),
    // starts without history.
    FlowHistory h;
    if (auto old = n.flows.find(key); old != n.flows.end() &&
                                      sample.sequence >= old->second.last.sequence &&
                                      sample.bytes >= old->second.last.bytes) {
      h = old->second;
      if (now - h.last.at >= kMinInterval) {
        h.prev = h.last;
        h.has_prev = true;
      }
    }
    h.last = sample;
    h.repairs = f.repairs();
    flows[key] = h;
  }
  n.flows = std::move(flows);
  n.links.clear();
  for (const v1::LinkTraffic& l : report.links()) n.links[l.node_id()] = l;
}

void EdgeRates::Forget(uint64_t session) {
  absl::MutexLock lock(&mu_);
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
    if (it->second.session == session) {
      nodes_.erase(it);
      return;
    }
  }
}

EdgeRates::Position EdgeRates::Find(const std::string& node, const FlowKey& key,
                                    absl::Time now) const {
  Position p;
  auto n = nodes_.find(node);
  if (n == nodes_.end()) return p;
  auto f = n->second.flows.find(key);
  if (f == n->second.flows.end()) return p;
  const FlowHistory& h = f->second;
  p.history = &h;
  p.age = std::max(absl::ZeroDuration(), now - h.last.at);
  p.fresh = p.age <= options_.stale_after;
  if (p.fresh && h.has_prev) {
    const double span = absl::ToDoubleSeconds(h.last.at - h.prev.at);
    if (span > 0) {
      p.messages_per_s = static_cast<double>(h.last.sequence - h.prev.sequence) / span;
      p.bytes_per_s = static_cast<double>(h.last.bytes - h.prev.bytes) / span;
    }
  }
  return p;
}

v1::EdgeTraffic EdgeRates::Compare(const Position& ahead, const Position& behind) const {
  const FlowHistory& a = *ahead.history;
  const FlowHistory& b = *behind.history;
  v1::EdgeTraffic t;
  t.set_bytes_per_s(behind.bytes_per_s);
  t.set_messages_per_s(behind.messages_per_s);
  t.set_sequence(b.last.sequence);
  t.set_report_age_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(behind.age)));
  t.set_repairs(b.repairs);
  if (&a == &b) return t;
  double lag;
  if (behind.fresh) {
    // Both at the older of the two report times.
    const absl::Time at = std::min(a.last.at, b.last.at);
    lag = SequenceAt(ahead.messages_per_s, at, a.last.at, a.last.sequence) -
          SequenceAt(behind.messages_per_s, at, b.last.at, b.last.sequence);
  } else {
    // Its reports stopped: it is where it last was.
    lag = static_cast<double>(a.last.sequence) - static_cast<double>(b.last.sequence);
  }
  const uint64_t lag_messages = lag > 0 ? static_cast<uint64_t>(std::llround(lag)) : 0;
  // The mean message size the ahead node saw lately (or over its whole
  // history when nothing moved lately).
  double mean_bytes = 0;
  if (a.has_prev && a.last.sequence > a.prev.sequence) {
    mean_bytes = static_cast<double>(a.last.bytes - a.prev.bytes) /
                 static_cast<double>(a.last.sequence - a.prev.sequence);
  } else if (a.last.sequence > 0) {
    mean_bytes = static_cast<double>(a.last.bytes) / static_cast<double>(a.last.sequence);
  }
  t.set_lag_messages(lag_messages);
  t.set_lag_bytes(
      static_cast<uint64_t>(std::llround(static_cast<double>(lag_messages) * mean_bytes)));
  const double lag_seconds = ahead.messages_per_s > 0
                                 ? static_cast<double>(lag_messages) / ahead.messages_per_s
                                 : std::numeric_limits<double>::infinity();
  t.set_lagging(lag_messages > 0 &&
                (!behind.fresh || lag_seconds >= absl::ToDoubleSeconds(options_.lagging_after)));
  return t;
}

void EdgeRates::Annotate(v1::GetTreeResponse& response, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  for (v1::SourceTree& tree : *response.mutable_trees()) {
    const FlowKey key{response.group(), tree.source()};
    const Position root = Find(tree.root(), key, now);
    if (root.history != nullptr) {
      *tree.mutable_traffic()->mutable_ingress() = Compare(root, root);
    }
    for (v1::TreeEdge& edge : *tree.mutable_edges()) {
      const Position child = Find(edge.child(), key, now);
      if (child.history == nullptr) continue;
      const Position parent = Find(edge.parent(), key, now);
      v1::EdgeTraffic t = Compare(parent.history != nullptr ? parent : child, child);
      if (auto p = nodes_.find(edge.parent()); p != nodes_.end()) {
        if (auto link = p->second.links.find(edge.child()); link != p->second.links.end()) {
          t.set_queued_bytes(link->second.queued_bytes());
          t.set_dropped_frames(link->second.dropped_frames());
        }
      }
      *edge.mutable_traffic() = std::move(t);
    }
    for (const std::string& receiver : tree.receivers()) {
      const Position at = Find(receiver, key, now);
      if (at.history == nullptr) continue;
      (*tree.mutable_traffic()->mutable_receivers())[receiver] =
          Compare(root.history != nullptr ? root : at, at);
    }
  }
}

}  // namespace canopy::controller
