// bench-planner: how fast the control plane plans (issue 4, "Measured"),
// and how it scales on a sparse overlay (issue 21).
//
// Builds an overlay of --nodes nodes with distance-based RTTs, --groups
// groups of about --members member nodes and one source each, all through
// the real ControllerCore with counting node channels. Beyond
// --full-mesh-max-nodes the overlay is sparse: the nodes measure only the
// peers the controller names and report Vivaldi coordinates. Then measures:
//   1. the full plan: ControllerCore::ReplanAll() over every flow;
//   2. --events join/leave events through ControllerCore::OnMembership (the
//      incremental path): sustained events/s and p50/p99 from the call to
//      its return, by which time every changed table is pushed;
//   3. the yardstick: the same kind of events, each followed by a full
//      ReplanAll(), until --yardstick-seconds have passed (at least two);
//   4. peak memory (resident) per node;
//   5. tree quality: at --compare-nodes nodes, the same groups planned on
//      the sparse overlay and on the full mesh, both judged by the latency
//      model's true RTTs.
// Human-readable lines first; the last line is one JSON object.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "base/program.h"
#include "bench/elapsed.h"
#include "bench/planner/event_stream.h"
#include "bench/planner/random.h"
#include "bench/planner/scenario.h"
#include "spdlog/spdlog.h"

namespace canopy::bench {
namespace {

constexpr double kTargetSpeedup = 10.0;
constexpr double kTargetP99Ms = 50.0;
constexpr double kTargetFullPlanMs = 10000.0;
constexpr double kTargetCostRatio = 1.05;
// The yardstick runs at least this many events, whatever the time budget.
constexpr int kMinYardstickEvents = 2;

struct Flags {
  int nodes = 10000;
  int groups = 1000;
  int members = 100;
  int events = 10000;
  uint64_t seed = 1;
  double yardstick_seconds = 25;
  std::string profile = "latency";
  uint32_t max_fanout = 0;
  int full_mesh_max_nodes = 0;  // 0: the controller's default
  int probe_rounds = 20;
  int probe_nearest = 0;  // 0: the controller's default
  int probe_random = -1;  // -1: the controller's default
  int compare_nodes = 1000;  // 0: no quality comparison
  int compare_groups = 200;
  int compare_members = 50;
};

using Clock = std::chrono::steady_clock;

// Nearest-rank percentile of sorted values. REQUIRES: !sorted.empty().
double Percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// CPU time of the calling thread in ms: the planner's work whatever else
// runs on the machine (wall times grow with its load; this does not).
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Resident memory now, in KiB (VmRSS); 0 if unknown.
long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// The most memory this process held resident so far, in KiB.
long PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string StorePath(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("bench-planner-", getpid(), "-", tag, ".db"))
      .string();
}

// One overlay planned from scratch for the quality comparison.
struct Planned {
  TreeShape shape;
  OverlayReport overlay;
  double full_plan_ms = 0;
};

absl::StatusOr<Planned> PlanOverlay(const Flags& flags, bool full_mesh) {
  ScenarioOptions options;
  options.nodes = flags.compare_nodes;
  options.groups = flags.compare_groups;
  options.seed = flags.seed;
  options.profile = flags.profile == "cost" ? v1::TREE_PROFILE_COST : v1::TREE_PROFILE_LATENCY;
  options.max_fanout = flags.max_fanout;
  options.store_path = StorePath(full_mesh ? "mesh" : "sparse");
  options.full_mesh_max_nodes = full_mesh ? flags.compare_nodes : 0;
  options.probe_rounds = flags.probe_rounds;
  options.probe_nearest = flags.probe_nearest;
  options.probe_random = flags.probe_random;
  absl::StatusOr<std::unique_ptr<Scenario>> created = Scenario::Create(options);
  if (!created.ok()) return created.status();
  Scenario& scenario = **created;
  if (absl::Status s = scenario.AttachAll(); !s.ok()) return s;
  Planned out;
  out.overlay = scenario.MeasureOverlay();
  // The same members and sources on both overlays (the same seeds).
  Random random(flags.seed * 0x9E3779B97F4A7C15ull + 1);
  MembershipModel model(flags.compare_nodes, flags.compare_groups);
  model.Populate(flags.compare_members, random);
  scenario.PublishAllMemberships(model);
  scenario.PublishAllSources(random);
  const Clock::time_point t = Clock::now();
  scenario.core().ReplanAll();
  out.full_plan_ms = MsSince(t);
  out.shape = scenario.Shape();
  return out;
}

double MeanDelayUs(const TreeShape& shape) {
  return shape.receivers == 0 ? 0.0
                              : static_cast<double>(shape.true_delay_sum_us) / shape.receivers;
}

int Run(const Flags& flags) {
  const long base_rss_kib = RssKib();
  spdlog::set_level(spdlog::level::warn);  // the controller logs every attach at info

  ScenarioOptions options;
  options.nodes = flags.nodes;
  options.groups = flags.groups;
  options.seed = flags.seed;
  options.profile = flags.profile == "cost" ? v1::TREE_PROFILE_COST : v1::TREE_PROFILE_LATENCY;
  options.max_fanout = flags.max_fanout;
  options.store_path = StorePath("main");
  options.full_mesh_max_nodes = flags.full_mesh_max_nodes;
  options.probe_rounds = flags.probe_rounds;
  options.probe_nearest = flags.probe_nearest;
  options.probe_random = flags.probe_random;
  absl::StatusOr<std::unique_ptr<Scenario>> created = Scenario::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "bench-planner: %s\n", created.status().ToString().c_str());
    return 1;
  }
  Scenario& scenario = **created;
  controller::ControllerCore& core = scenario.core();
  std::printf("bench-planner: %d nodes, %d groups x %d members, %d events, seed %llu, "
              "profile %s, max fan-out %u\n",
              flags.nodes, flags.groups, flags.members, flags.events,
              static_cast<unsigned long long>(flags.seed), flags.profile.c_str(),
              flags.max_fanout);

  // ---- Setup ------------------------------------------------------------
  Clock::time_point t = Clock::now();
  if (absl::Status s = scenario.AttachAll(); !s.ok()) {
    std::fprintf(stderr, "bench-planner: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("setup: attach %d nodes: %.1f ms\n", flags.nodes, MsSince(t));
  t = Clock::now();
  const OverlayReport overlay = scenario.MeasureOverlay();
  std::printf("setup: %s overlay measured: %lld RTT reports of %lld pairs in %.1f ms; probe "
              "peers per node mean %.1f, max %lld\n",
              overlay.full_mesh ? "full-mesh" : "sparse",
              static_cast<long long>(overlay.rtt_reports),
              static_cast<long long>(overlay.pairs_reported), MsSince(t),
              overlay.peers_per_node_mean, static_cast<long long>(overlay.peers_per_node_max));
  if (!overlay.full_mesh) {
    std::printf("setup: coordinates estimate RTTs of random pairs within %.1f%% (median), "
                "%.1f%% (90th percentile)\n",
                100 * overlay.estimate_error_p50, 100 * overlay.estimate_error_p90);
  }
  t = Clock::now();
  core.ReplanAll();
  std::printf("setup: warm-up ReplanAll (no flows yet): %.1f ms\n", MsSince(t));

  Random random(flags.seed * 0x9E3779B97F4A7C15ull + 1);
  MembershipModel model(flags.nodes, flags.groups);
  model.Populate(flags.members, random);
  t = Clock::now();
  scenario.PublishAllMemberships(model);
  std::printf("setup: membership of %d nodes: %.1f ms\n", flags.nodes, MsSince(t));
  t = Clock::now();
  scenario.PublishAllSources(random);
  std::printf("setup: %d sources (flows created incrementally): %.1f ms\n", flags.groups,
              MsSince(t));

  // ---- 1. Full plan -------------------------------------------------------
  uint64_t tables = scenario.TablesPushed();
  t = Clock::now();
  double cpu = ThreadCpuMs();
  core.ReplanAll();
  const double full_plan_ms = MsSince(t);
  const double full_plan_cpu_ms = ThreadCpuMs() - cpu;
  const v1::ControllerStats stats = core.Stats();
  std::printf("full plan: %.1f ms, %.1f ms of CPU (planner %.1f ms, rest is diffing and "
              "pushing), %u flows, %llu tables pushed\n",
              full_plan_ms, full_plan_cpu_ms, static_cast<double>(stats.last_full_plan_us()) / 1000.0,
              stats.flows(),
              static_cast<unsigned long long>(scenario.TablesPushed() - tables));
  const TreeShape shape = scenario.Shape();
  std::printf("trees: %d, %lld edges (%.1f%% relayed, not from the ingress), max depth %d, "
              "mean planned cost %.0f us\n",
              shape.trees, static_cast<long long>(shape.edges),
              shape.edges == 0 ? 0.0 : 100.0 * static_cast<double>(shape.relayed_edges) /
                                           static_cast<double>(shape.edges),
              shape.max_depth,
              shape.trees == 0 ? 0.0 : static_cast<double>(shape.cost_us) / shape.trees);

  // ---- 2. Incremental events ------------------------------------------------
  EventStream stream(model, flags.members, flags.seed * 0xD1B54A32D192ED03ull + 2);
  std::vector<double> latency_ms;
  latency_ms.reserve(static_cast<size_t>(flags.events));
  int joins = 0;
  tables = scenario.TablesPushed();
  const uint64_t incremental_before = core.Stats().incremental_changes();
  t = Clock::now();
  cpu = ThreadCpuMs();
  for (int i = 0; i < flags.events; ++i) {
    const MembershipEvent event = stream.Next();
    joins += event.join ? 1 : 0;
    model.Apply(event);
    const Clock::time_point start = Clock::now();
    scenario.PublishMembership(model, event.node);
    latency_ms.push_back(MsSince(start));
  }
  const double events_ms = MsSince(t);
  const double events_cpu_ms = ThreadCpuMs() - cpu;
  const double events_per_s = 1000.0 * flags.events / events_ms;
  const uint64_t event_tables = scenario.TablesPushed() - tables;
  std::sort(latency_ms.begin(), latency_ms.end());
  const double p50 = Percentile(latency_ms, 0.50);
  const double p99 = Percentile(latency_ms, 0.99);
  size_t min_size = model.MembersOf(0).size(), max_size = min_size;
  for (int g = 0; g < flags.groups; ++g) {
    min_size = std::min(min_size, model.MembersOf(g).size());
    max_size = std::max(max_size, model.MembersOf(g).size());
  }
  std::printf("events: %d (%d joins, %d leaves) in %.1f ms: %.0f events/s; event to pushed "
              "tables p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              flags.events, joins, flags.events - joins, events_ms, events_per_s, p50, p99,
              latency_ms.back());
  std::printf("events: %.3f ms of CPU per event on average\n", events_cpu_ms / flags.events);
  std::printf("events: %.2f tables pushed per event, %llu incremental tree changes; group "
              "sizes now %zu..%zu\n",
              static_cast<double>(event_tables) / flags.events,
              static_cast<unsigned long long>(core.Stats().incremental_changes() -
                                              incremental_before),
              min_size, max_size);

  // After the stream a full re-plan of `latency` trees should change
  // nothing (incremental trees are the fresh ones, pruned); `cost` trees
  // were grafted and pruned, so a fresh Steiner tree may differ.
  tables = scenario.TablesPushed();
  t = Clock::now();
  core.ReplanAll();
  std::printf("check: full re-plan after the stream: %.1f ms, changed %llu table(s) "
              "(latency: 0 = incremental state equals a fresh plan)\n",
              MsSince(t), static_cast<unsigned long long>(scenario.TablesPushed() - tables));

  // ---- 3. Yardstick: full recomputation per event ---------------------------
  std::vector<double> yardstick_ms;
  const double budget_ms = flags.yardstick_seconds * 1000.0;
  t = Clock::now();
  double yardstick_total_ms = 0;
  while (static_cast<int>(yardstick_ms.size()) < kMinYardstickEvents ||
         (yardstick_total_ms < budget_ms &&
          static_cast<int>(yardstick_ms.size()) < flags.events)) {
    const MembershipEvent event = stream.Next();
    model.Apply(event);
    const Clock::time_point start = Clock::now();
    scenario.PublishMembership(model, event.node);
    core.ReplanAll();
    yardstick_ms.push_back(MsSince(start));
    yardstick_total_ms = MsSince(t);
  }
  const int yardstick_events = static_cast<int>(yardstick_ms.size());
  const double yardstick_per_s = 1000.0 * yardstick_events / yardstick_total_ms;
  std::sort(yardstick_ms.begin(), yardstick_ms.end());
  std::printf("yardstick: %d events with a full ReplanAll each in %.1f ms: %.2f events/s "
              "(per event min %.1f ms, median %.1f ms, max %.1f ms)\n",
              yardstick_events, yardstick_total_ms, yardstick_per_s, yardstick_ms.front(),
              Percentile(yardstick_ms, 0.5), yardstick_ms.back());

  // ---- 4. Memory ---------------------------------------------------------------
  const long peak_rss_kib = PeakRssKib();
  const double kib_per_node =
      static_cast<double>(peak_rss_kib - base_rss_kib) / static_cast<double>(flags.nodes);
  std::printf("memory: peak resident %.1f MiB (%.1f MiB before the overlay): %.1f KiB per node\n",
              peak_rss_kib / 1024.0, base_rss_kib / 1024.0, kib_per_node);

  // ---- 5. Quality: sparse overlay against the full mesh -----------------------
  double cost_ratio = 0, delay_ratio = 0;
  if (flags.compare_nodes > 0) {
    absl::StatusOr<Planned> sparse = PlanOverlay(flags, /*full_mesh=*/false);
    absl::StatusOr<Planned> mesh = PlanOverlay(flags, /*full_mesh=*/true);
    if (!sparse.ok() || !mesh.ok()) {
      std::fprintf(stderr, "bench-planner: %s\n",
                   (sparse.ok() ? mesh.status() : sparse.status()).ToString().c_str());
      return 1;
    }
    for (const auto& [name, p] : {std::pair<const char*, const Planned*>{"sparse", &*sparse},
                                  std::pair<const char*, const Planned*>{"full mesh", &*mesh}}) {
      std::printf("quality: %d nodes, %d groups x %d members, %s (%.1f probe peers per node): "
                  "full plan %.1f ms, true tree cost %lld us, mean true delay %.0f us over %lld "
                  "receivers\n",
                  flags.compare_nodes, flags.compare_groups, flags.compare_members, name,
                  p->overlay.peers_per_node_mean, p->full_plan_ms,
                  static_cast<long long>(p->shape.true_cost_us), MeanDelayUs(p->shape),
                  static_cast<long long>(p->shape.receivers));
    }
    cost_ratio = mesh->shape.true_cost_us == 0 ? 0.0
                                               : static_cast<double>(sparse->shape.true_cost_us) /
                                                     static_cast<double>(mesh->shape.true_cost_us);
    delay_ratio = MeanDelayUs(mesh->shape) == 0 ? 0.0
                                                : MeanDelayUs(sparse->shape) / MeanDelayUs(mesh->shape);
    std::printf("quality: sparse / full mesh: tree cost %.3fx, mean delay %.3fx\n", cost_ratio,
                delay_ratio);
  }

  // ---- Verdict ----------------------------------------------------------------
  const double speedup = events_per_s / yardstick_per_s;
  std::printf("target: events/s >= %.0fx yardstick: %s (%.1fx)\n", kTargetSpeedup,
              speedup >= kTargetSpeedup ? "MET" : "MISSED", speedup);
  std::printf("target: p99 <= %.0f ms: %s (%.3f ms)\n", kTargetP99Ms,
              p99 <= kTargetP99Ms ? "MET" : "MISSED", p99);
  std::printf("target: full plan <= %.0f ms: %s (%.1f ms)\n", kTargetFullPlanMs,
              full_plan_ms <= kTargetFullPlanMs ? "MET" : "MISSED", full_plan_ms);
  if (flags.compare_nodes > 0) {
    std::printf("target: sparse tree cost and mean delay <= %.2fx full mesh: %s (%.3fx, %.3fx)\n",
                kTargetCostRatio,
                cost_ratio <= kTargetCostRatio && delay_ratio <= kTargetCostRatio ? "MET"
                                                                                  : "MISSED",
                cost_ratio, delay_ratio);
  }
  std::printf("{\"full_plan_ms\":%.3f, \"events_per_s\":%.3f, \"yardstick_events_per_s\":%.3f, "
              "\"p50_ms\":%.3f, \"p99_ms\":%.3f, \"speedup\":%.3f, \"kib_per_node\":%.1f, "
              "\"sparse_cost_ratio\":%.3f, \"sparse_delay_ratio\":%.3f, "
              "\"estimate_error_p50\":%.3f, \"probe_peers_max\":%lld, \"nodes\":%d, "
              "\"groups\":%d, \"members\":%d, \"events\":%d, \"yardstick_events\":%d, "
              "\"full_plan_cpu_ms\":%.1f, \"event_cpu_ms\":%.3f, \"profile\":\"%s\", "
              "\"seed\":%llu}\n",
              full_plan_ms, events_per_s, yardstick_per_s, p50, p99, speedup, kib_per_node,
              cost_ratio, delay_ratio, overlay.estimate_error_p50,
              static_cast<long long>(overlay.peers_per_node_max), flags.nodes,
              flags.groups, flags.members, flags.events, yardstick_events, full_plan_cpu_ms,
              events_cpu_ms / flags.events,
              flags.profile.c_str(), static_cast<unsigned long long>(flags.seed));
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace canopy::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows even when piped
  canopy::bench::Flags flags;
  CLI::App app{
      "bench-planner: the controller's planner: full plan, incremental join/leave events, "
      "and full recomputation per event as the yardstick. The last line of output "
      "is one JSON object."};
  app.add_option("--nodes", flags.nodes, "Overlay nodes")
      ->check(canopy::IntegerIn(2, 20000))
      ->capture_default_str();
  app.add_option("--groups", flags.groups, "Groups, one source each")
      ->check(canopy::IntegerIn(1, 100000))
      ->capture_default_str();
  app.add_option("--members", flags.members, "Member nodes per group (kept around this)")
      ->check(canopy::IntegerIn(1, 20000))
      ->capture_default_str();
  app.add_option("--events", flags.events, "Join/leave events to time")
      ->check(canopy::IntegerIn(1, 100000000))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of every random choice")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(0, UINT64_MAX));
  app.add_option("--yardstick-seconds", flags.yardstick_seconds,
                 "Time budget of the full-recomputation yardstick (at least 2 events run)")
      ->check(canopy::NumberIn(0.001, 86400))
      ->capture_default_str();
  app.add_option("--profile", flags.profile, "Tree profile of every group")
      ->check(CLI::IsMember({"latency", "cost"}))
      ->capture_default_str();
  app.add_option("--max-fanout", flags.max_fanout, "Most children per node and tree (0 = no limit)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, 1 << 16));
  app.add_option("--full-mesh-max-nodes", flags.full_mesh_max_nodes,
                 "Overlays of at most this many nodes are a full mesh (0 = the controller's "
                 "default: sparse beyond 33 nodes)")
      ->check(canopy::IntegerIn(0, 20000))
      ->capture_default_str();
  app.add_option("--probe-rounds", flags.probe_rounds,
                 "Sparse overlays: rounds of probing and coordinate reports before planning")
      ->check(canopy::IntegerIn(1, 1000))
      ->capture_default_str();
  app.add_option("--probe-nearest", flags.probe_nearest,
                 "Sparse overlays: nearest probe peers per node (0 = the controller's default)")
      ->check(canopy::IntegerIn(0, 256))
      ->capture_default_str();
  app.add_option("--probe-random", flags.probe_random,
                 "Sparse overlays: random probe peers per node (-1 = the controller's default)")
      ->check(canopy::IntegerIn(-1, 255))
      ->capture_default_str();
  app.add_option("--compare-nodes", flags.compare_nodes,
                 "Nodes of the sparse-against-full-mesh quality comparison (0 = none)")
      ->check(canopy::IntegerIn(0, 5000))
      ->capture_default_str();
  app.add_option("--compare-groups", flags.compare_groups, "Groups of the comparison")
      ->check(canopy::IntegerIn(1, 100000))
      ->capture_default_str();
  app.add_option("--compare-members", flags.compare_members, "Members per group of the comparison")
      ->check(canopy::IntegerIn(1, 5000))
      ->capture_default_str();
  bool quick = false;
  app.add_flag("--quick", quick,
               "A few seconds for the test suite: 400 nodes, 40 groups x 20 members, 400 "
               "events, the comparison at 200 nodes (other flags are ignored)");
  if (std::optional<int> exit = canopy::ParseCommandLine(app, "bench-planner", argc, argv)) {
    return *exit;
  }
  if (quick) {
    flags.nodes = 400;
    flags.groups = 40;
    flags.members = 20;
    flags.events = 400;
    flags.yardstick_seconds = 0.5;
    flags.probe_rounds = 10;
    flags.compare_nodes = 200;
    flags.compare_groups = 20;
    flags.compare_members = 10;
  }
  if (flags.compare_nodes > 0 && flags.compare_members >= flags.compare_nodes) {
    std::fprintf(stderr, "bench-planner: --compare-members must be below --compare-nodes\n");
    return 2;
  }
  if (flags.members >= flags.nodes) {
    std::fprintf(stderr, "bench-planner: --members must be below --nodes (see --help)\n");
    return 2;
  }
  return canopy::bench::Run(flags);
}
