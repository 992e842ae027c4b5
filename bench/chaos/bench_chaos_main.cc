// bench-chaos: fault cycles against a `reliable` stream on loopback, with
// real controller, node, canopy-pub and canopy-sub processes.
//
//   bench-chaos [--cycles N] [--seed S] [--quick]
//
// Two topologies: a chain with no detour (static links a–b–c, publisher at
// a, subscriber at c) and a full mesh of four nodes that may each feed one
// child (so the tree relays through the others). Each cycle injects one
// fault, in turn: kill -9 a relay and restart it; freeze a relay (SIGSTOP)
// until the controller declared it dead, then let it go; restart the
// controller with SIGTERM, and with kill -9, the nodes re-attaching in a
// random order. It reports, per topology, messages lost without a gap line
// (target 0), duplicates or reorderings (target 0), messages declared lost,
// and the recovery time from the fault to the delivery of the first message
// published after it (p50, p99). Then a node that never reads its stream
// attaches, and `canopyctl stats` is timed with and without it (p99; target
// ≤ 1 s). The last line is JSON.

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/program.h"
#include "tests/system/numbered_stream.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"
#include "tests/system/stuck_node.h"

namespace canopy::bench {
namespace {

using testing::kWait;
using testing::NumberedStream;
using testing::Overlay;
using testing::Process;
using testing::StreamVerdict;

constexpr int kBatch = 100;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size()) + 0.5);
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

struct TopologyResult {
  std::string name;
  int faults = 0;
  StreamVerdict verdict;
  std::vector<double> recovery_ms;
  std::string failure;  // empty when every cycle recovered
};

enum class Fault { kKillRelay, kFreezeRelay, kControllerTerm, kControllerKill };
const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kKillRelay:
      return "kill -9 relay";
    case Fault::kFreezeRelay:
      return "freeze relay";
    case Fault::kControllerTerm:
      return "controller SIGTERM";
    case Fault::kControllerKill:
      return "controller kill -9";
  }
  return "?";
}

// One topology: `relays` are the nodes a fault may hit.
TopologyResult RunTopology(const std::string& name, Overlay& overlay,
                           const std::vector<std::string>& nodes,
                           const std::vector<std::string>& relays, const std::string& from,
                           const std::string& to, int cycles, std::mt19937& random) {
  TopologyResult result;
  result.name = name;
  NumberedStream stream(overlay, from, to, "chaos");
  if (!stream.Start()) {
    result.failure = "the subscriber did not join";
    return result;
  }
  stream.Publish(kBatch);
  if (!stream.AwaitDelivered()) {
    result.failure = "the stream did not start";
    return result;
  }
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const Fault fault = static_cast<Fault>(cycle % 4);
    const std::string relay = relays[random() % relays.size()];
    const absl::Time start = absl::Now();
    bool ok = true;
    switch (fault) {
      case Fault::kKillRelay:
        overlay.KillNode(relay);
        stream.Publish(kBatch);
        overlay.StartNodeAgain(relay);
        break;
      case Fault::kFreezeRelay:
        overlay.node(relay).Signal(SIGSTOP);
        stream.Publish(kBatch);
        ok = overlay.AwaitNodeListed(relay, /*listed=*/false);  // declared dead
        overlay.node(relay).Signal(SIGCONT);
        break;
      case Fault::kControllerTerm:
      case Fault::kControllerKill: {
        for (const std::string& id : nodes) overlay.node(id).Signal(SIGSTOP);
        stream.Publish(kBatch);
        ok = overlay.RestartController(fault == Fault::kControllerTerm ? SIGTERM : SIGKILL);
        std::vector<std::string> order = nodes;
        std::shuffle(order.begin(), order.end(), random);
        for (const std::string& id : order) {
          overlay.node(id).Signal(SIGCONT);
          ok = ok && overlay.AwaitNodeListed(id);
        }
        break;
      }
    }
    ++result.faults;
    const uint64_t first_after = stream.published() + 1;
    stream.Publish(kBatch);
    ok = ok && stream.subscriber()
                   .WaitForStdout(" " + NumberedStream::Message(first_after), kWait)
                   .has_value();
    if (!ok || !stream.AwaitDelivered()) {
      result.failure = absl::StrCat("cycle ", cycle, " (", FaultName(fault), " on ", relay,
                                    ") did not recover within ", absl::FormatDuration(kWait));
      break;
    }
    result.recovery_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    const bool on_relay = fault == Fault::kKillRelay || fault == Fault::kFreezeRelay;
    std::fprintf(stderr, "bench-chaos: %s cycle %d: %s%s, recovered in %.0f ms\n", name.c_str(),
                 cycle, FaultName(fault), on_relay ? (" on " + relay).c_str() : "",
                 result.recovery_ms.back());
  }
  stream.FinishPublisher();
  result.verdict = stream.Verdict();
  return result;
}

// Wall time of `calls` runs of `canopyctl stats`, in ms; a failed call
// counts as its timeout.
std::vector<double> TimeCanopyctl(const std::string& controller, int calls) {
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    Process ctl({testing::BinaryPath("canopyctl"), "--controller", controller, "stats"});
    const std::optional<int> code = ctl.Wait(kWait);
    ms.push_back(code == 0 ? absl::ToDoubleMilliseconds(absl::Now() - start)
                           : absl::ToDoubleMilliseconds(kWait));
  }
  return ms;
}

std::string Json(const TopologyResult& r) {
  return absl::StrFormat(
      "{\"faults\":%d, \"published\":%d, \"delivered\":%d, \"undeclared_lost\":%d, "
      "\"duplicates\":%d, \"declared_lost\":%d, \"recovery_p50_ms\":%.0f, "
      "\"recovery_p99_ms\":%.0f, \"recovered\":%s}",
      r.faults, r.verdict.published, r.verdict.delivered, r.verdict.undeclared_lost,
      r.verdict.out_of_order, r.verdict.declared_lost, Percentile(r.recovery_ms, 50),
      Percentile(r.recovery_ms, 99), r.failure.empty() ? "true" : "false");
}

int Run(int cycles, int ctl_calls, uint64_t seed) {
  std::mt19937 random(static_cast<uint32_t>(seed));
  std::vector<TopologyResult> results;
  {
    Overlay chain({"--liveness-ms", "600"}, "a b 100\nb c 100\n");
    for (const char* id : {"a", "b", "c"}) chain.StartNode(id, 0, {"--probe-interval-ms", "0"});
    results.push_back(
        RunTopology("chain", chain, {"a", "b", "c"}, {"b"}, "a", "c", cycles, random));
    if (!results.back().failure.empty()) std::fprintf(stderr, "%s\n", chain.Logs().c_str());
  }
  {
    Overlay mesh({"--liveness-ms", "600"});
    for (const char* id : {"a", "b", "c", "d"}) mesh.StartNode(id, 1, {"--probe-interval-ms", "0"});
    results.push_back(
        RunTopology("mesh", mesh, {"a", "b", "c", "d"}, {"b", "c"}, "a", "d", cycles, random));
    if (!results.back().failure.empty()) std::fprintf(stderr, "%s\n", mesh.Logs().c_str());
  }
  double baseline_p99 = 0, stuck_p99 = 0;
  bool stuck_dropped = false;
  {
    Overlay overlay({"--drain-timeout-ms", "3000"});
    overlay.StartNode("a");
    overlay.StartNode("b");
    baseline_p99 = Percentile(TimeCanopyctl(overlay.controller_address(), ctl_calls), 99);
    testing::StuckNode stuck(overlay.controller_address(), "stuck", 3000);
    overlay.AwaitNodeListed("stuck");
    stuck_p99 = Percentile(TimeCanopyctl(overlay.controller_address(), ctl_calls), 99);
    stuck_dropped = overlay.AwaitNodeListed("stuck", /*listed=*/false);
  }
  bool ok = true;
  for (const TopologyResult& r : results) {
    std::printf("%s: %d faults, %s; recovery p50 %.0f ms, p99 %.0f ms%s\n", r.name.c_str(),
                r.faults, r.verdict.ToString().c_str(), Percentile(r.recovery_ms, 50),
                Percentile(r.recovery_ms, 99),
                r.failure.empty() ? "" : absl::StrCat(" — FAILED: ", r.failure).c_str());
    ok = ok && r.failure.empty() && r.verdict.ok();
  }
  std::printf(
      "canopyctl stats p99: %.0f ms with a node that never reads, %.0f ms without "
      "(ratio %.2f); the stuck node was %sdisconnected\n",
      stuck_p99, baseline_p99, baseline_p99 > 0 ? stuck_p99 / baseline_p99 : 0,
      stuck_dropped ? "" : "NOT ");
  std::printf(
      "{\"cycles\":%d, \"chain\":%s, \"mesh\":%s, \"canopyctl_p99_ms_stuck_node\":%.0f, "
      "\"canopyctl_p99_ms_baseline\":%.0f, \"stuck_node_disconnected\":%s}\n",
      cycles, Json(results[0]).c_str(), Json(results[1]).c_str(), stuck_p99, baseline_p99,
      stuck_dropped ? "true" : "false");
  return ok && stuck_dropped && stuck_p99 <= 1000 ? 0 : 1;
}

}  // namespace
}  // namespace canopy::bench

int main(int argc, char** argv) {
  CLI::App app{"bench-chaos: fault cycles against a reliable stream, on loopback"};
  int cycles = 20;
  int ctl_calls = 100;
  uint64_t seed = 1;
  bool quick = false;
  app.add_option("--cycles", cycles, "fault cycles per topology (faults rotate through 4 kinds)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the relay choice and re-attach order")
      ->capture_default_str();
  app.add_flag("--quick", quick, "4 cycles per topology and 20 canopyctl calls (the suite's run)");
  if (auto code = canopy::ParseCommandLine(app, "bench-chaos", argc, argv)) return *code;
  if (quick) {
    cycles = 4;
    ctl_calls = 20;
  }
  return canopy::bench::Run(cycles, ctl_calls, seed);
}
