#ifndef CANOPY_CONTROLLER_LATENCY_STRATEGY_H_
#define CANOPY_CONTROLLER_LATENCY_STRATEGY_H_

#include <vector>

#include "controller/profile_strategy.h"

namespace canopy::controller {

// The `latency` profile without LANs: a shortest-path tree per (S,G) flow
// (tree::LatencyFlowTree). A join or leave un-prunes or prunes one path; the
// background pass keeps a tree unless a new one's max delay is better by
// the hysteresis factor. Thread-compatible.
class LatencyStrategy final : public ProfileStrategy {
 public:
  using ProfileStrategy::ProfileStrategy;
  void Build(const SourceKey& key, Flow& flow) override;
  Replanned WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v, bool wants) override;
  Replanned Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed, double keep) override;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_LATENCY_STRATEGY_H_
