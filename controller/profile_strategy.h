#ifndef CANOPY_CONTROLLER_PROFILE_STRATEGY_H_
#define CANOPY_CONTROLLER_PROFILE_STRATEGY_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "controller/flow.h"
#include "tree/overlay_graph.h"
#include "tree/shortest_path_tree.h"

namespace canopy::controller {

// What a profile strategy reads and asks of the planner's model: the
// overlay graph, the flows, and the shared rules (reachability, rebuilding a
// flow with its own profile's strategy). Implemented by the Planner.
class PlanContext {
 public:
  virtual const tree::OverlayGraph& graph() const = 0;
  // Work budget of one Steiner search (PlannerOptions::steiner_work).
  virtual int64_t steiner_work() const = 0;
  // The vertex of node `node`, kNoVertex if it has none.
  virtual tree::VertexId VertexOf(const std::string& node) const = 0;
  // The members of `wanted` that a tree rooted at `root` can reach over the
  // graph's links and LANs.
  virtual std::set<tree::VertexId> ReachableMembers(tree::VertexId root,
                                                    const std::set<tree::VertexId>& wanted) = 0;
  // A tree holding only `root`, sized for the graph.
  virtual tree::RootedTree EmptyTree(tree::VertexId root) const = 0;
  // The flow of `key`. REQUIRES: HasFlow(key).
  virtual Flow& FlowOf(const SourceKey& key) = 0;
  virtual bool HasFlow(const SourceKey& key) const = 0;
  // The keys of `group`'s flows (empty if none). Valid until a flow is
  // created or removed.
  virtual const std::set<SourceKey>& FlowsOfGroup(const std::string& group) const = 0;
  // Re-plans `flow` from scratch: its wanted set again, then its profile's
  // strategy's Build.
  virtual void BuildFlow(const SourceKey& key, Flow& flow) = 0;

 protected:
  ~PlanContext() = default;
};

// What a strategy changed: the flows whose forwarding entries must be
// compiled again, the groups whose trees changed (for inspection and
// watchers), and for Reoptimize how many flows moved or stayed.
struct Replanned {
  std::vector<SourceKey> refresh = {};
  std::set<std::string> changed_groups = {};
  int applied = 0;
  int skipped = 0;

  // Adds what `other` changed (and counted) to this.
  void Merge(const Replanned& other) {
    refresh.insert(refresh.end(), other.refresh.begin(), other.refresh.end());
    changed_groups.insert(other.changed_groups.begin(), other.changed_groups.end());
    applied += other.applied;
    skipped += other.skipped;
  }
};

// How the flows of one tree profile get and keep their trees (latency,
// shared cost, bulk, LAN hyper-nodes). The planner keeps the model (nodes,
// membership, flows) and compiles tables; a strategy only shapes trees, and
// says which flows it touched.
//
// Thread-compatible: the planner serialises all calls.
class ProfileStrategy {
 public:
  explicit ProfileStrategy(PlanContext& context) : context_(context) {}
  virtual ~ProfileStrategy() = default;
  ProfileStrategy(const ProfileStrategy&) = delete;
  ProfileStrategy& operator=(const ProfileStrategy&) = delete;

  // Gives `flow` its tree. On entry flow.wanted is current and flow.tree is
  // the empty tree of its ingress (which has a vertex). On failure the tree
  // stays empty and flow.build_error says why.
  virtual void Build(const SourceKey& key, Flow& flow) = 0;
  // `key`'s flow was created and built.
  virtual Replanned Added(const SourceKey& key) { return {.refresh = {key}}; }
  // `key`'s flow was removed (its group's other flows remain).
  virtual Replanned Removed(const SourceKey& key) { return {}; }
  // Vertex `v` started (`wants`) or stopped wanting `key`'s flow;
  // flow.wanted already says so.
  virtual Replanned WantedChanged(const SourceKey& key, Flow& flow, tree::VertexId v,
                                  bool wants) = 0;
  // Every flow of `group` that uses this strategy was just built from
  // scratch (a policy change or a full re-plan): derive what spans them.
  virtual void Rebuilt(const std::string& group) {}
  // Drops what was derived for `group` / for every group.
  virtual void Forget(const std::string& group) {}
  virtual void ForgetAll() {}
  // The graph gained vertices (up to `vertex_count`).
  virtual void GraphGrew(int32_t vertex_count) {}
  // Re-plans `keys`, flows that miss a wanted member, in case one became
  // reachable. By default each is built again; a group counts as changed
  // where its tree did.
  virtual Replanned Heal(const std::vector<SourceKey>& keys);
  // The background pass over `keys` (this strategy's flows): applies a new
  // tree only where it is better by the hysteresis factor `keep` (0.95 =
  // 5% better). `rtts_changed`: the graph was rebuilt with new costs.
  virtual Replanned Reoptimize(const std::vector<SourceKey>& keys, bool rtts_changed,
                               double keep) = 0;

 protected:
  PlanContext& context_;
};

// Reoptimize for trees judged by their largest delay: each flow (not one
// reached by LAN multicast, whose multicast hops are no graph edges) is
// built again and moves to the new tree if its max delay beats the old by
// `keep`.
Replanned ReoptimizeByDelay(PlanContext& context, const std::vector<SourceKey>& keys, double keep);

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_PROFILE_STRATEGY_H_
