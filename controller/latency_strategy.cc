#include "controller/latency_strategy.h"

#include <string>
#include <utility>

#include "spdlog/spdlog.h"
#include "tree/flow_tree.h"

namespace canopy::controller {

void LatencyStrategy::Build(const SourceKey& key, Flow& flow) {
  const tree::VertexId root = context_.VertexOf(flow.ingress);
  absl::StatusOr<tree::LatencyFlowTree> t = tree::LatencyFlowTree::Build(
      context_.graph(), root, context_.ReachableMembers(root, flow.wanted));
  if (!t.ok()) {
    spdlog::error("no tree for source {} of group {}: {}", key.second, key.first,
                  t.status().ToString());
    flow.build_error = std::string(t.status().message());
    return;
  }
  flow.latency = *std::move(t);
  flow.tree = flow.latency->tree();
}

Replanned LatencyStrategy::WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v,
                                         bool wants) {
  if (!flow.latency) {
    context_.BuildFlow(key, flow);
  } else if (!wants) {
    flow.latency->Leave(v);
  } else if (!flow.latency->Join(v)) {
    context_.BuildFlow(key, flow);  // v arrived after the flow's spanning tree was built
  }
  if (flow.latency) flow.tree = flow.latency->tree();
  return {.refresh = {key}};
}

Replanned LatencyStrategy::Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed,
                                      double keep) {
  if (!rtts_changed) return {};
  return ReoptimizeByDelay(context_, keys, keep);
}

}  // namespace canopy::controller
