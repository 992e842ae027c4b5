// bench-planner: how fast the control plane plans (issue 4, "Measured").
//
// Builds an overlay of --nodes nodes with distance-based RTTs, --groups
// groups of about --members member nodes and one source each, all through
// the real ControllerCore with counting node channels, then measures:
//   1. the full plan: ControllerCore::ReplanAll() over every flow;
//   2. --events join/leave events through ControllerCore::OnMembership (the
//      incremental path): sustained events/s and p50/p99 from the call to
//      its return, by which time every changed table is pushed;
//   3. the yardstick: the same kind of events, each followed by a full
//      ReplanAll(), until --yardstick-seconds have passed (at least two).
// Human-readable lines first; the last line is one JSON object.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "bench/planner/event_stream.h"
#include "bench/planner/random.h"
#include "bench/planner/scenario.h"
#include "proto/program.h"
#include "spdlog/spdlog.h"

namespace canopy::bench {
namespace {

constexpr double kTargetSpeedup = 10.0;
constexpr double kTargetP99Ms = 50.0;
// The yardstick runs at least this many events, whatever the time budget.
constexpr int kMinYardstickEvents = 2;

struct Flags {
  int nodes = 1000;
  int groups = 200;
  int members = 50;
  int events = 10000;
  uint64_t seed = 1;
  double yardstick_seconds = 25;
  std::string profile = "latency";
  uint32_t max_fanout = 0;
};

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Nearest-rank percentile of sorted values. REQUIRES: !sorted.empty().
double Percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int Run(const Flags& flags) {
  spdlog::set_level(spdlog::level::warn);  // the controller logs every attach at info

  ScenarioOptions options;
  options.nodes = flags.nodes;
  options.groups = flags.groups;
  options.seed = flags.seed;
  options.profile = flags.profile == "cost" ? v1::TREE_PROFILE_COST : v1::TREE_PROFILE_LATENCY;
  options.max_fanout = flags.max_fanout;
  options.store_path = (std::filesystem::temp_directory_path() /
                        absl::StrCat("bench-planner-", getpid(), ".db"))
                           .string();
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
  scenario.ReportAllRtts();
  std::printf("setup: RTT reports (%lld measured pairs): %.1f ms\n",
              static_cast<long long>(flags.nodes) * (flags.nodes / 2), MsSince(t));
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
  core.ReplanAll();
  const double full_plan_ms = MsSince(t);
  const v1::ControllerStats stats = core.Stats();
  std::printf("full plan: %.1f ms (planner %.1f ms, rest is diffing and pushing), %u flows, "
              "%llu tables pushed\n",
              full_plan_ms, static_cast<double>(stats.last_full_plan_us()) / 1000.0,
              stats.flows(),
              static_cast<unsigned long long>(scenario.TablesPushed() - tables));
  const TreeShape shape = scenario.Shape();
  std::printf("trees: %d, %lld edges (%.1f%% relayed, not from the ingress), max depth %d, "
              "mean cost %.0f us\n",
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
  for (int i = 0; i < flags.events; ++i) {
    const MembershipEvent event = stream.Next();
    joins += event.join ? 1 : 0;
    model.Apply(event);
    const Clock::time_point start = Clock::now();
    scenario.PublishMembership(model, event.node);
    latency_ms.push_back(MsSince(start));
  }
  const double events_ms = MsSince(t);
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

  // ---- Verdict ----------------------------------------------------------------
  const double speedup = events_per_s / yardstick_per_s;
  std::printf("target: events/s >= %.0fx yardstick: %s (%.1fx)\n", kTargetSpeedup,
              speedup >= kTargetSpeedup ? "MET" : "MISSED", speedup);
  std::printf("target: p99 <= %.0f ms: %s (%.3f ms)\n", kTargetP99Ms,
              p99 <= kTargetP99Ms ? "MET" : "MISSED", p99);
  std::printf("{\"full_plan_ms\":%.3f, \"events_per_s\":%.3f, \"yardstick_events_per_s\":%.3f, "
              "\"p50_ms\":%.3f, \"p99_ms\":%.3f, \"speedup\":%.3f, \"nodes\":%d, "
              "\"groups\":%d, \"members\":%d, \"events\":%d, \"yardstick_events\":%d, "
              "\"profile\":\"%s\", \"seed\":%llu}\n",
              full_plan_ms, events_per_s, yardstick_per_s, p50, p99, speedup, flags.nodes,
              flags.groups, flags.members, flags.events, yardstick_events,
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
  if (std::optional<int> exit = canopy::ParseCommandLine(app, "bench-planner", argc, argv)) {
    return *exit;
  }
  if (flags.members >= flags.nodes) {
    std::fprintf(stderr, "bench-planner: --members must be below --nodes (see --help)\n");
    return 2;
  }
  return canopy::bench::Run(flags);
}
