#ifndef CANOPY_CONTROLLER_EDGE_RATES_H_
#define CANOPY_CONTROLLER_EDGE_RATES_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

struct EdgeRatesOptions {
  // A node whose newest traffic report is older than this is taken to have
  // stopped: its rates read 0 and its position is not moved on.
  absl::Duration stale_after = absl::Seconds(3);
  // A child further behind than this much of the flow (at its parent's
  // recent rate) is lagging.
  absl::Duration lagging_after = absl::Seconds(2);
};

// What the controller keeps of the nodes' traffic reports (TrafficReport):
// the two newest samples of every flow at every node and the newest link
// counters, enough to turn cumulative counters into rates and to tell how
// far a child is behind its parent. Reports are stamped with the
// controller's clock when they arrive, so node clocks do not matter.
//
// Lag is measured at one instant: the node whose report is newer is taken
// back, along its last interval, to the other's report time. A child whose
// reports went stale is held where it last was, so a stopped child's lag
// grows with the flow.
//
// Kept apart from planning (its own lock): recording a report or reading
// rates never waits for the planner.
//
// Thread-safe.
class EdgeRates {
 public:
  explicit EdgeRates(EdgeRatesOptions options = {});
  EdgeRates(const EdgeRates&) = delete;
  EdgeRates& operator=(const EdgeRates&) = delete;

  // Records `report` of node `node` (session `session`) received at `now`.
  // A report of a new session starts the node's history afresh; flows and
  // links it does not list are forgotten.
  void Record(uint64_t session, const std::string& node, const v1::TrafficReport& report,
              absl::Time now);

  // Forgets what session `session` reported (its stream ended). A newer
  // session of the same node keeps its history.
  void Forget(uint64_t session);

  // Fills the traffic of every tree of `response` as of `now`: each edge's
  // TreeEdge.traffic (from the child's and the parent's reports) and
  // SourceTree.traffic (the ingress and each receiver). Edges and receivers
  // whose node never reported stay without.
  void Annotate(v1::GetTreeResponse& response, absl::Time now) const;

 private:
  struct Sample {
    absl::Time at;
    uint64_t sequence = 0;
    uint64_t bytes = 0;
  };
  struct FlowHistory {
    Sample last;
    Sample prev;
    bool has_prev = false;
    uint64_t repairs = 0;
  };
  using FlowKey = std::pair<std::string, std::string>;  // (group, source)
  struct NodeTraffic {
    uint64_t session = 0;
    absl::Time reported;
    std::map<FlowKey, FlowHistory> flows;
    std::map<std::string, v1::LinkTraffic> links;  // child → counters
  };
  // A flow at one node, as read at some instant.
  struct Position {
    const FlowHistory* history = nullptr;
    bool fresh = false;
    double messages_per_s = 0;
    double bytes_per_s = 0;
    absl::Duration age;
  };

  // The flow `key` at `node`; nullopt-like (history null) if not reported.
  Position Find(const std::string& node, const FlowKey& key, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How far `behind` is behind `ahead` (same flow), with the rates, age and
  // sequence of `behind`.
  v1::EdgeTraffic Compare(const Position& ahead, const Position& behind) const;

  const EdgeRatesOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, NodeTraffic> nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_EDGE_RATES_H_
