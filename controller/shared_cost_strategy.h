#ifndef CANOPY_CONTROLLER_SHARED_COST_STRATEGY_H_
#define CANOPY_CONTROLLER_SHARED_COST_STRATEGY_H_

#include <map>
#include <string>
#include <vector>

#include "controller/profile_strategy.h"

namespace canopy::controller {

// The `cost` profile without LANs: one shared Steiner tree per group (*,G)
// over its members and its sources' ingress nodes, from which each source's
// tree is derived (tree::DeriveFromShared). A member's join grafts it onto
// the shared tree and its leave prunes it (tree::GraftMember/PruneMember);
// a failed graft re-plans the group. The background pass improves shared
// trees by local search and applies a better one past the hysteresis
// factor. Thread-compatible.
class SharedCostStrategy final : public ProfileStrategy {
 public:
  using ProfileStrategy::ProfileStrategy;
  // A flow's tree is derived from its group's shared tree, built by Added /
  // Rebuilt; Build leaves it empty.
  void Build(const SourceKey& key, Flow& flow) override {}
  Replanned Added(const SourceKey& key) override;
  Replanned Removed(const SourceKey& key) override;
  Replanned WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v, bool wants) override;
  void Rebuilt(const std::string& group) override { RebuildShared(group); }
  void Forget(const std::string& group) override { shared_.erase(group); }
  void ForgetAll() override { shared_.clear(); }
  void GraphGrew(int32_t vertex_count) override;
  Replanned Heal(const std::vector<SourceKey>& keys) override;
  Replanned Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed, double keep) override;

 private:
  struct SharedTree {
    tree::RootedTree tree;
    std::map<tree::VertexId, int> terminals;  // vertex → flows needing it
  };
  // Plans `group`'s shared tree from scratch and derives its flows' trees.
  void RebuildShared(const std::string& group);
  void DeriveSharedFlows(const std::string& group);
  // Every flow of `group`, to compile again after its shared tree changed.
  Replanned WholeGroup(const std::string& group) const;

  std::map<std::string, SharedTree> shared_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_SHARED_COST_STRATEGY_H_
