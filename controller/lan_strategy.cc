#include "controller/lan_strategy.h"

#include <string>
#include <utility>

#include "spdlog/spdlog.h"
#include "tree/steiner.h"

namespace canopy::controller {

void LanStrategy::Build(const SourceKey& key, Flow& flow) {
  const tree::VertexId root = context_.VertexOf(flow.ingress);
  const std::set<tree::VertexId> reachable = context_.ReachableMembers(root, flow.wanted);
  std::vector<tree::VertexId> members(reachable.begin(), reachable.end());
  tree::SteinerOptions steiner;
  steiner.work_budget = context_.steiner_work();
  absl::StatusOr<tree::LanTree> t =
      tree::BuildLanTree(context_.graph(), root, members, profile_, steiner);
  if (!t.ok()) {
    spdlog::error("no tree for source {} of group {}: {}", key.second, key.first,
                  t.status().ToString());
    flow.build_error = std::string(t.status().message());
    return;
  }
  flow.tree = std::move(t->tree);
  flow.via_lan = std::move(t->via_lan);
}

Replanned LanStrategy::WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v,
                                     bool wants) {
  context_.BuildFlow(key, flow);
  return {.refresh = {key}};
}

Replanned LanStrategy::Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed,
                                  double keep) {
  if (!rtts_changed || profile_ != tree::TreeProfile::kLatency) return {};
  return ReoptimizeByDelay(context_, keys, keep);
}

}  // namespace canopy::controller
