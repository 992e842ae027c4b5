#ifndef CANOPY_BENCH_PLANNER_SCENARIO_H_
#define CANOPY_BENCH_PLANNER_SCENARIO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/planner/event_stream.h"
#include "bench/planner/fake_channel.h"
#include "bench/planner/latency_model.h"
#include "canopy/v1/common.pb.h"
#include "controller/controller_core.h"
#include "controller/policy_store.h"
#include "proto/network_coordinate.h"

namespace canopy::bench {

struct ScenarioOptions {
  int nodes = 1000;
  int groups = 200;
  uint64_t seed = 1;
  v1::TreeProfile profile = v1::TREE_PROFILE_LATENCY;
  // Most children per node and tree; 0 = no limit.
  uint32_t max_fanout = 0;
  // The controller's durable store (created; removed by the destructor).
  std::string store_path;
  // Overlays of at most this many nodes are a full mesh (every pair
  // measured); larger ones are sparse: each node measures only the peers
  // the controller names (ProbePlanOptions). 0 = the controller's default.
  int full_mesh_max_nodes = 0;
  // Nearest and random probe peers per node; 0 = the controller's default.
  int probe_nearest = 0;
  int probe_random = -1;  // -1 = the controller's default
  // Sparse overlays: rounds of probing (each node measures each of its
  // peers `samples_per_round` times, moves its coordinate and reports).
  int probe_rounds = 20;
  int samples_per_round = 3;
};

// What MeasureOverlay did.
struct OverlayReport {
  bool full_mesh = false;
  int64_t rtt_reports = 0;    // RttReport messages sent
  int64_t pairs_reported = 0;  // PeerRtt entries in them
  int64_t peers_per_node_max = 0;  // longest probe list at the end
  double peers_per_node_mean = 0;
  // Coordinates' estimate against the model's RTT over random pairs
  // (sparse only): |estimate - rtt| / rtt, median and 90th percentile.
  double estimate_error_p50 = 0;
  double estimate_error_p90 = 0;
};

// Shape of the planned trees, summed over every flow.
struct TreeShape {
  int trees = 0;
  int64_t edges = 0;
  int64_t relayed_edges = 0;  // edges whose parent is not the source's ingress
  int max_depth = 0;          // hops from the ingress
  int64_t cost_us = 0;        // sum of link costs, as the planner costs them
  // The same trees by the latency model's RTTs (the truth, which estimated
  // links only approximate): sum over edges, and root-to-receiver delays.
  int64_t true_cost_us = 0;
  int64_t true_delay_sum_us = 0;
  int64_t receivers = 0;
};

// The overlay a benchmark drives: a real ControllerCore over a temporary
// PolicyStore, `nodes` attached nodes with counting channels, RTTs from a
// LatencyModel (the same for the same node count and seed), and one source
// per group at a random ingress node. Nodes are "n0000".., groups
// "g000".., group g's source is "src-g000" (names padded to the counts).
// Talks to the controller only through its public entry points, with a
// synthetic clock that advances 1 ms per call.
//
// Thread-compatible.
class Scenario {
 public:
  // Opens the store and creates the controller; with the `cost` profile,
  // sets that policy on every group. Returns the store's error if any.
  static absl::StatusOr<std::unique_ptr<Scenario>> Create(const ScenarioOptions& options);
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;
  // Destroys the controller, then removes the store file.
  ~Scenario();

  // Attaches every node (127.0.0.1 addresses). Returns InvalidArgument if a
  // NodeHello would not pass the controller's validation, or the
  // controller's error if it refuses an attach.
  // REQUIRES: called once, first.
  absl::Status AttachAll();

  // The nodes measure the overlay and report it. A full mesh: every node
  // reports the RTTs to the half of the others that follow it on the ring,
  // so every pair is measured by at least one end. Sparse: `probe_rounds`
  // rounds in which every node measures the peers of its last ProbePeers,
  // moves its Vivaldi coordinate with each sample (against the peer's
  // coordinate as ProbePeers carried it, as canopy-node does) and reports
  // RTTs and coordinate.
  OverlayReport MeasureOverlay();

  // Reports each node's complete membership from `model`.
  void PublishAllMemberships(const MembershipModel& model);

  // Reports `node`'s complete membership from `model` through
  // ControllerCore::OnMembership: returns once the changed tables are
  // pushed. The report is built before the call.
  void PublishMembership(const MembershipModel& model, int node);

  // Places each group's source at a random ingress node and reports every
  // node's sources.
  void PublishAllSources(Random& random);

  controller::ControllerCore& core() { return *core_; }

  // Sums of what the channels received.
  uint64_t TablesPushed() const;
  uint64_t FlowEntriesPushed() const;

  // Shape of every group's trees (via ControllerCore::GetTree).
  TreeShape Shape() const;

  int node_count() const { return static_cast<int>(ids_.size()); }
  int group_count() const { return static_cast<int>(groups_.size()); }

 private:
  Scenario(const ScenarioOptions& options, std::unique_ptr<controller::PolicyStore> store);
  absl::Time Tick();
  void ReportRing();
  void ProbeRound(std::vector<VivaldiClient>& clients, OverlayReport& report);
  // Index of node `id` ("n0042" → 42); -1 if it names none.
  int IndexOf(const std::string& id) const;

  const ScenarioOptions options_;
  std::unique_ptr<controller::PolicyStore> store_;
  std::unique_ptr<controller::ControllerCore> core_;
  std::vector<std::string> ids_;
  std::vector<std::string> groups_;
  std::vector<std::unique_ptr<CountingChannel>> channels_;
  std::vector<uint64_t> sessions_;
  LatencyModel model_;
  absl::Time now_;
  uint64_t report_seq_ = 0;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_SCENARIO_H_
