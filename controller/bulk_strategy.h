#ifndef CANOPY_CONTROLLER_BULK_STRATEGY_H_
#define CANOPY_CONTROLLER_BULK_STRATEGY_H_

#include <string>
#include <vector>

#include "base/stripe_source.h"
#include "controller/profile_strategy.h"

namespace canopy::controller {

// The `bulk` profile: bandwidth-aware shapes chosen from the nodes' upload
// capacities (tree::ChooseBulkShape: a pipelined chain, a tree, or for a
// complete stripe set a forest with one tree per stripe), each flow with the
// predicted time for a reference object and the distribution bound. Joins
// and leaves re-plan the flow. In the background pass a stripe set moves
// together, and only when predicted faster by the hysteresis factor.
// Thread-compatible.
class BulkStrategy final : public ProfileStrategy {
 public:
  using ProfileStrategy::ProfileStrategy;
  void Build(const SourceKey& key, Flow& flow) override;
  // A stripe that completes its set re-plans the set's other stripes (they
  // may now be trees of one forest).
  Replanned Added(const SourceKey& key) override;
  Replanned WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v, bool wants) override;
  Replanned Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed, double keep) override;

 private:
  // True if every stripe of `stripe`'s set is a flow entering at `ingress`.
  bool StripeSetComplete(const std::string& group, const Stripe& stripe,
                         const std::string& ingress) const;
  // The existing flows of `key`'s stripe set (just `key` for a plain source).
  std::vector<SourceKey> StripeSet(const SourceKey& key) const;
  // Re-plans one stripe set (or one plain flow) and applies the new trees
  // past the hysteresis `keep` factor.
  Replanned ReoptimizeSet(const std::vector<SourceKey>& set, double keep);
  // Median upload capacity of the nodes that reported one (bit/s); what a
  // node of unknown capacity is assumed to have in predictions.
  double MedianKnownUpload() const;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_BULK_STRATEGY_H_
