#ifndef CANOPY_CONTROLLER_PLANNER_H_
#define CANOPY_CONTROLLER_PLANNER_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/stripe_source.h"
#include "canopy/v1/controller.pb.h"
#include "controller/bulk_strategy.h"
#include "controller/flow.h"
#include "controller/id_source.h"
#include "controller/lan_strategy.h"
#include "controller/latency_strategy.h"
#include "controller/profile_strategy.h"
#include "controller/shared_cost_strategy.h"
#include "controller/topology.h"
#include "proto/network_coordinate.h"
#include "tree/flow_tree.h"
#include "tree/lan.h"
#include "tree/overlay_graph.h"
#include "tree/work_budget.h"

namespace canopy::controller {

// A source the planner refused, and why (told once to its ingress node).
struct Rejection {
  std::string node;
  SourceKey key;
  std::string reason;
};

struct PlannerOptions {
  // Cost of a link whose RTT nobody measured and no coordinates estimate,
  // in µs.
  int64_t default_link_cost_us = 1000;
  // Who probes whom, and so which links the overlay has (Topology).
  ProbePlanOptions probes;
  // Reoptimize() switches a flow to a new tree only if it is better by at
  // least this percentage (max delay for `latency`, total cost otherwise).
  double hysteresis_percent = 5.0;
  // Work budget of one Steiner search for the `cost` profile.
  int64_t steiner_work = 200 * tree::kWorkUnitsPerMilli;
  // Native multicast: a group's LAN address is
  // multicast_base + (hash(group) mod 2^(32 - multicast_prefix)), port
  // multicast_port (administratively scoped 239.0.0.0/8 by default).
  uint32_t multicast_base = 0xEF000000;  // 239.0.0.0, host byte order
  int multicast_prefix = 8;
  uint16_t multicast_port = 7800;
};

struct PlannerStats {
  uint64_t full_plans = 0;
  uint64_t incremental_changes = 0;
  uint64_t reoptimizations_applied = 0;
  uint64_t reoptimizations_skipped = 0;
  uint64_t last_full_plan_us = 0;
};

// The control plane's model and planner: nodes and links, each node's merged
// membership and sources, group policies, and for every allowed (group,
// source) flow a tree shaped by the group's profile — turned into per-node
// forwarding entries.
//
// Membership and source changes are applied incrementally (a `latency`
// flow un-prunes or prunes one path; a `cost` group grafts or prunes its
// shared Steiner tree); node arrivals, departures, static-link and policy
// changes re-plan from scratch; Reoptimize() re-plans in the background and
// keeps the old tree unless the new one is better than the hysteresis
// threshold. Only nodes whose entries changed are reported.
//
// Each profile's trees are shaped by its strategy (profile_strategy.h:
// latency, shared cost, bulk, and LAN hyper-nodes while multicast domains
// exist); the planner keeps the model and compiles trees into tables
// (table_compiler.h). Defined in planner.cc (the model and planning) and
// planner_views.cc (tables and inspection).
//
// Thread-compatible: the caller serialises all calls.
class Planner final : private PlanContext {
 public:
  Planner(PlannerOptions options, IdSource& ids);
  Planner(const Planner&) = delete;
  Planner& operator=(const Planner&) = delete;

  // Topology. A new node extends the graph without touching any tree (it has
  // no members or sources yet); the others re-plan every flow.
  void AddNode(const NodeSpec& spec);
  void RemoveNode(const std::string& id);
  void SetStaticLinks(std::vector<StaticLink> links);
  // Node id → multicast domain id for the nodes in one (LANs where native
  // multicast works): `latency` trees treat each domain as one hyper-node
  // entered once, whose designated forwarder re-emits by multicast.
  // Re-plans every flow and returns true if the domains changed.
  bool SetMulticastDomains(std::map<std::string, std::string> domain_of);
  // "A.B.C.D:PORT": the address `group` is mapped to on LANs.
  std::string MulticastAddressOf(const std::string& group) const;
  // Replaces the mapping of groups to LAN addresses (initially the
  // options'); re-plans every flow if it changed.
  void SetMulticastMapping(uint32_t base, int prefix, uint16_t port);
  // Recorded; the next Reoptimize() plans with them.
  void ReportRtts(const std::string& node,
                  const std::vector<std::pair<std::string, uint64_t>>& rtts);
  // The node's network coordinate (estimates, and whom it probes);
  // recorded like RTTs.
  void ReportCoordinate(const std::string& node, const NetworkCoordinate& coordinate);

  // Nodes whose probe lists changed since the last call (they are due a
  // ProbePeers), sorted.
  std::vector<std::string> TakeProbeChanges();
  // The peers `node` should probe, with their data addresses and last
  // coordinates, sorted by id.
  v1::ProbePeers ProbePeersOf(const std::string& node) const;

  // Replaces a group's policy and re-plans its flows.
  void SetPolicy(const v1::GroupPolicy& policy);

  // A node's complete merged membership (group → filter) / source set.
  void SetMembership(const std::string& node, std::map<std::string, v1::SourceFilter> membership);
  void SetSources(const std::string& node, std::set<SourceKey> sources);

  // Re-plans every flow from scratch (what a topology change does).
  void ReplanAll();

  // Background pass: re-plans with the latest RTTs and re-optimises `cost`
  // trees; applies a new tree only past the hysteresis threshold.
  struct ReoptimizeResult {
    int applied = 0;
    int skipped = 0;
  };
  ReoptimizeResult Reoptimize();

  // Nodes whose entries changed since the last call, ingress nodes last.
  std::vector<std::string> TakeChangedNodes();
  // Counts `node` among the changed ones (its table is due again).
  void MarkNodeChanged(const std::string& node) { changed_nodes_.insert(node); }
  // Groups whose trees changed since the last call.
  std::set<std::string> TakeChangedGroups();
  // Groups whose trees, members, sources or unreachable members may have
  // changed since the last call (a superset of the changed groups).
  std::set<std::string> TakeTouchedGroups();
  // Sources refused since the last call.
  std::vector<Rejection> TakeRejections();

  // The node's forwarding entries, ordered by (group, source).
  std::vector<v1::FlowEntry> TableOf(const std::string& node) const;
  // The flows the node's subscribers want but no tree brings to it now, and
  // why, ordered by (group, source).
  std::vector<v1::CutOffSource> CutOffOf(const std::string& node) const;
  // (member node, source) pairs cut off now, over every flow.
  size_t unreachable_count() const;

  // Inspection.
  std::vector<v1::SourceTree> Trees(const std::string& group) const;
  // Nodes with subscribers of `group` and their merged filters.
  std::map<std::string, v1::SourceFilter> Members(const std::string& group) const;
  bool HasMembersOrSources(const std::string& group) const;
  size_t flow_count() const { return flows_.size(); }
  const Topology& topology() const { return topology_; }
  const PlannerStats& stats() const { return stats_; }

 private:
  struct NodeState {
    std::map<std::string, v1::SourceFilter> membership;
    std::set<SourceKey> sources;
  };
  // Adds `node` to (or, `present` false, removes it from) the group indexes
  // for what `state` holds.
  void Index(const std::string& node, const NodeState& state, bool present);
  void RebuildGraph();
  // Re-plans every flow that misses a wanted member (incomplete_): called
  // after any change that can make an unreachable member reachable.
  void Heal();
  // Why `v` is outside `flow`'s tree.
  std::string UnreachableReason(const Flow& flow, tree::VertexId v);
  // Per root, which vertices it can reach (tree::ReachableFrom); cleared
  // whenever the graph changes. Empty for a full mesh, where all can.
  const std::vector<char>& Reach(tree::VertexId root);
  void ReconcileSources();
  void CreateFlow(const SourceKey& key, const std::string& ingress);
  void RemoveFlow(const SourceKey& key);
  // The strategy that shapes flows of `profile` now (LAN hyper-nodes for
  // latency and cost while any multicast domain exists).
  ProfileStrategy& StrategyOf(v1::TreeProfile profile);
  // Every strategy, in a fixed order.
  std::array<ProfileStrategy*, 5> AllStrategies();
  // The flows among `keys` (a set of SourceKey or a map keyed by them;
  // keys without a flow are skipped), grouped by the strategy that shapes
  // them now.
  template <typename Keys>
  std::map<ProfileStrategy*, std::vector<SourceKey>> ByStrategy(const Keys& keys);
  // Compiles the flows a strategy changed and records their groups.
  void Apply(const Replanned& replanned);
  void SetWanted(const SourceKey& key, tree::VertexId v, bool wants);
  // Updates the flow's unreachable members and compiles its entries into
  // the tables of the nodes on its tree.
  void RefreshEntries(const SourceKey& key);
  void Reject(const std::string& node, const SourceKey& key, std::string reason);
  // Records that `group`'s trees changed (and so what inspection shows).
  void MarkChanged(const std::string& group);

  v1::TreeProfile ProfileOf(const std::string& group) const;
  // True if some node is in a multicast domain.
  bool AnyMulticastDomain() const;
  bool Allowed(const SourceKey& key) const;
  bool NodeWants(const std::string& node, const SourceKey& key) const;
  std::set<tree::VertexId> WantedSet(const SourceKey& key, const std::string& ingress) const;
  // PlanContext.
  const tree::OverlayGraph& graph() const override { return graph_; }
  int64_t steiner_work() const override { return options_.steiner_work; }
  tree::VertexId VertexOf(const std::string& node) const override;
  std::set<tree::VertexId> ReachableMembers(tree::VertexId root,
                                            const std::set<tree::VertexId>& wanted) override;
  tree::RootedTree EmptyTree(tree::VertexId root) const override;
  Flow& FlowOf(const SourceKey& key) override { return flows_.at(key); }
  bool HasFlow(const SourceKey& key) const override { return flows_.contains(key); }
  const std::set<SourceKey>& FlowsOfGroup(const std::string& group) const override;
  void BuildFlow(const SourceKey& key, Flow& flow) override;

  const PlannerOptions options_;
  IdSource& ids_;
  // The multicast mapping in force (options_'s until SetMulticastMapping).
  uint32_t multicast_base_;
  int multicast_prefix_;
  uint16_t multicast_port_;
  Topology topology_;
  tree::OverlayGraph graph_;
  std::vector<std::string> names_;                // vertex → node id
  std::map<std::string, tree::VertexId> vertex_;  // node id → vertex
  bool rtts_changed_ = false;
  std::set<std::string> probe_changes_;

  std::map<std::string, NodeState> nodes_;
  // Indexes over nodes_: group → nodes with a member of it, and group →
  // nodes with a source of it (Members and HasMembersOrSources without a
  // walk over every node). Kept by Index().
  std::map<std::string, std::set<std::string>> member_nodes_;
  std::map<std::string, std::set<std::string>> source_nodes_;
  std::map<std::string, v1::GroupPolicy> policies_;
  std::map<SourceKey, Flow> flows_;
  std::map<std::string, std::set<SourceKey>> flows_of_group_;
  LatencyStrategy latency_{*this};
  SharedCostStrategy shared_cost_{*this};
  BulkStrategy bulk_{*this};
  LanStrategy lan_latency_{*this, tree::TreeProfile::kLatency};
  LanStrategy lan_cost_{*this, tree::TreeProfile::kCost};

  // node → its entries; flow → nodes holding an entry for it.
  std::map<std::string, std::map<SourceKey, v1::FlowEntry>> tables_;
  std::map<SourceKey, std::set<std::string>> flow_nodes_;
  std::set<std::string> changed_nodes_;
  std::set<std::string> changed_groups_;
  std::set<std::string> touched_groups_;
  std::map<std::pair<std::string, SourceKey>, std::string> rejected_;
  // Flows whose tree misses a wanted member; node → flows it wants but does
  // not get, with the reason.
  std::set<SourceKey> incomplete_;
  std::map<std::string, std::map<SourceKey, std::string>> cut_off_;
  std::map<tree::VertexId, std::vector<char>> reach_;
  std::vector<Rejection> new_rejections_;
  PlannerStats stats_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_PLANNER_H_
