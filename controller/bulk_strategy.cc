#include "controller/bulk_strategy.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "spdlog/spdlog.h"
#include "tree/bulk_shape.h"
#include "tree/flow_tree.h"

namespace canopy::controller {

void BulkStrategy::Build(const SourceKey& key, Flow& flow) {
  // A stripe of a complete stripe set may get its own tree of a forest;
  // every other bulk flow gets the chain or the tree.
  const tree::VertexId root = context_.VertexOf(flow.ingress);
  const std::optional<Stripe> stripe = ParseStripe(key.second);
  const bool striped = stripe && StripeSetComplete(key.first, *stripe, flow.ingress);
  const std::set<tree::VertexId> members = context_.ReachableMembers(root, flow.wanted);
  const double default_upload = MedianKnownUpload();
  absl::StatusOr<tree::BulkShape> shape = tree::ChooseBulkShape(
      context_.graph(), root, members, striped ? stripe->count : 1, default_upload);
  if (!shape.ok()) {
    spdlog::error("no bulk tree for source {} of group {}: {}", key.second, key.first,
                  shape.status().ToString());
    flow.build_error = std::string(shape.status().message());
    return;
  }
  spdlog::debug("bulk source {} of group {}: {} of {} tree(s) predicted {:.2f} s", key.second,
                key.first, tree::BulkShapeName(shape->kind), shape->distinct_trees,
                shape->predicted_seconds);
  v1::BulkPrediction& bulk = flow.bulk.emplace();
  bulk.set_shape(tree::BulkShapeName(shape->kind));
  bulk.set_trees(shape->distinct_trees);
  bulk.set_stripes(striped ? stripe->count : 1);
  bulk.set_reference_bytes(static_cast<uint64_t>(tree::kBulkReferenceBytes));
  bulk.set_predicted_seconds(shape->predicted_seconds);
  bulk.set_bound_seconds(tree::BulkBoundSeconds(context_.graph(), root, members, default_upload));
  flow.tree = std::move(shape->trees[striped ? stripe->index : 0]);
}

Replanned BulkStrategy::Added(const SourceKey& key) {
  Replanned out{.refresh = {key}};
  if (!ParseStripe(key.second)) return out;
  for (const SourceKey& k : StripeSet(key)) {
    if (k == key) continue;
    context_.BuildFlow(k, context_.FlowOf(k));
    out.refresh.push_back(k);
  }
  return out;
}

Replanned BulkStrategy::WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v,
                                      bool wants) {
  context_.BuildFlow(key, flow);
  return {.refresh = {key}};
}

Replanned BulkStrategy::Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed,
                                   double keep) {
  Replanned out;
  if (!rtts_changed) return out;
  std::set<SourceKey> done;
  for (const SourceKey& key : keys) {
    if (done.contains(key)) continue;
    const std::vector<SourceKey> set = StripeSet(key);
    done.insert(set.begin(), set.end());
    Replanned moved = ReoptimizeSet(set, keep);
    moved.skipped = static_cast<int>(set.size()) - moved.applied;
    out.Merge(moved);
  }
  return out;
}

Replanned BulkStrategy::ReoptimizeSet(const std::vector<SourceKey>& set, double keep) {
  const tree::OverlayGraph& graph = context_.graph();
  std::vector<Flow> candidates;
  std::vector<tree::RootedTree> before_trees, after_trees;
  int64_t before_cost = 0, after_cost = 0;
  auto add = [](int64_t total, int64_t cost) {
    return total == tree::kInvalidCost || cost == tree::kInvalidCost ? tree::kInvalidCost
                                                                     : total + cost;
  };
  for (const SourceKey& k : set) {
    const Flow& flow = context_.FlowOf(k);
    Flow& candidate = candidates.emplace_back(flow);
    context_.BuildFlow(k, candidate);
    before_trees.push_back(flow.tree);
    after_trees.push_back(candidate.tree);
    before_cost = add(before_cost, tree::TreeCost(graph, flow.tree));
    after_cost = add(after_cost, tree::TreeCost(graph, candidate.tree));
  }
  // The set moves together, so a forest's stripes never mix with another's,
  // and only when it is predicted faster: RTTs swing under a bulk transfer's
  // own load, and moving a transfer to shorter hops that carry no more
  // costs relinking everything in flight.
  const double default_upload = MedianKnownUpload();
  const double before_s = tree::PredictBulkSeconds(graph, before_trees, default_upload);
  const double after_s = tree::PredictBulkSeconds(graph, after_trees, default_upload);
  const bool better = after_cost != tree::kInvalidCost && after_s < before_s * keep;
  if (before_cost != tree::kInvalidCost && !better) return {};
  Replanned out;
  for (size_t i = 0; i < set.size(); ++i) {
    context_.FlowOf(set[i]) = std::move(candidates[i]);
    out.refresh.push_back(set[i]);
  }
  out.changed_groups.insert(set.front().first);
  out.applied = static_cast<int>(set.size());
  return out;
}

bool BulkStrategy::StripeSetComplete(const std::string& group, const Stripe& stripe,
                                     const std::string& ingress) const {
  for (int i = 0; i < stripe.count; ++i) {
    const SourceKey k{group, StripeSourceId(stripe.base, i, stripe.count)};
    if (!context_.HasFlow(k) || context_.FlowOf(k).ingress != ingress) return false;
  }
  return true;
}

std::vector<SourceKey> BulkStrategy::StripeSet(const SourceKey& key) const {
  const std::optional<Stripe> stripe = ParseStripe(key.second);
  if (!stripe) return {key};
  std::vector<SourceKey> set;
  for (int i = 0; i < stripe->count; ++i) {
    SourceKey k{key.first, StripeSourceId(stripe->base, i, stripe->count)};
    if (context_.HasFlow(k)) set.push_back(std::move(k));
  }
  return set;
}

double BulkStrategy::MedianKnownUpload() const {
  const tree::OverlayGraph& graph = context_.graph();
  std::vector<int64_t> known;
  for (tree::VertexId v = 0; v < graph.VertexCount(); ++v) {
    if (graph.Vertex(v).upload_bps > 0) known.push_back(graph.Vertex(v).upload_bps);
  }
  if (known.empty()) return 1e9;  // any positive value: only ratios matter then
  std::nth_element(known.begin(), known.begin() + known.size() / 2, known.end());
  return static_cast<double>(known[known.size() / 2]);
}

}  // namespace canopy::controller
