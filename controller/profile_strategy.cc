#include "controller/profile_strategy.h"

#include <utility>

#include "tree/flow_tree.h"

namespace canopy::controller {

Replanned ProfileStrategy::Heal(const std::vector<SourceKey>& keys) {
  Replanned out;
  for (const SourceKey& key : keys) {
    Flow& flow = context_.FlowOf(key);
    const std::vector<tree::VertexId> before = flow.tree.parent;
    context_.BuildFlow(key, flow);
    out.refresh.push_back(key);
    if (flow.tree.parent != before) out.changed_groups.insert(key.first);
  }
  return out;
}

Replanned ReoptimizeByDelay(PlanContext& context, const std::vector<SourceKey>& keys, double keep) {
  Replanned out;
  const tree::OverlayGraph& graph = context.graph();
  for (const SourceKey& key : keys) {
    Flow& flow = context.FlowOf(key);
    if (!flow.via_lan.empty()) {
      ++out.skipped;
      continue;
    }
    Flow candidate = flow;
    context.BuildFlow(key, candidate);
    const int64_t before = tree::MaxDelay(graph, flow.tree, flow.wanted);
    const int64_t after = tree::MaxDelay(graph, candidate.tree, candidate.wanted);
    if (before == tree::kInvalidCost || (after != tree::kInvalidCost && after < before * keep)) {
      flow = std::move(candidate);
      out.refresh.push_back(key);
      out.changed_groups.insert(key.first);
      ++out.applied;
    } else {
      ++out.skipped;
    }
  }
  return out;
}

}  // namespace canopy::controller
