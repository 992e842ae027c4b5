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
#include "canopy/v1/common.pb.h"
#include "controller/controller_core.h"
#include "controller/policy_store.h"

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
};

// Shape of the planned trees, summed over every flow.
struct TreeShape {
  int trees = 0;
  int64_t edges = 0;
  int64_t relayed_edges = 0;  // edges whose parent is not the source's ingress
  int max_depth = 0;          // hops from the ingress
  int64_t cost_us = 0;        // sum of link costs
};

// The overlay a benchmark drives: a real ControllerCore over a temporary
// PolicyStore, `nodes` attached nodes with counting channels, node positions
// on a unit square whose distances become the RTTs the nodes report, and one
// source per group at a random ingress node. Nodes are "n0000".., groups
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

  // Every node reports the RTTs to the half of the others that follow it on
  // the ring, so every pair is measured by at least one end. The RTT is
  // 100 µs + the nodes' distance scaled to 19,900 µs for the square's
  // diagonal, times a per-pair detour factor in [1, 1.8) (routes are not
  // straight, so relaying sometimes beats the direct link), capped at
  // 20,000 µs.
  void ReportAllRtts();

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
  uint64_t RttUs(int a, int b) const;

  const ScenarioOptions options_;
  std::unique_ptr<controller::PolicyStore> store_;
  std::unique_ptr<controller::ControllerCore> core_;
  std::vector<std::string> ids_;
  std::vector<std::string> groups_;
  std::vector<std::unique_ptr<CountingChannel>> channels_;
  std::vector<uint64_t> sessions_;
  std::vector<double> x_, y_;
  absl::Time now_;
  uint64_t report_seq_ = 0;
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_SCENARIO_H_
