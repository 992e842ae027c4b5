#ifndef CANOPY_CONTROLLER_LAN_STRATEGY_H_
#define CANOPY_CONTROLLER_LAN_STRATEGY_H_

#include <vector>

#include "controller/profile_strategy.h"
#include "tree/lan.h"

namespace canopy::controller {

// `latency` and `cost` flows while some nodes share a LAN where native
// multicast works: each multicast domain is one hyper-node entered once,
// whose designated forwarder re-emits by multicast (tree::BuildLanTree).
// Every flow gets its own tree, rebuilt on each membership change (no
// incremental LAN trees). In the background pass `latency` trees move past
// the hysteresis factor as LatencyStrategy's do (trees that use a LAN stay);
// `cost` trees stay. Thread-compatible.
class LanStrategy final : public ProfileStrategy {
 public:
  // `profile`: what a tree between the hyper-nodes minimises.
  LanStrategy(PlanContext& context, tree::TreeProfile profile)
      : ProfileStrategy(context), profile_(profile) {}
  void Build(const SourceKey& key, Flow& flow) override;
  Replanned WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v, bool wants) override;
  Replanned Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed, double keep) override;

 private:
  const tree::TreeProfile profile_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_LAN_STRATEGY_H_
