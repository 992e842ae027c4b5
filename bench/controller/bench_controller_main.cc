// bench-controller: the real canopy-controller process under load (issue 21).
//
// Starts canopy-controller on loopback and attaches --nodes simulated nodes
// (SimulatedNode: one Attach stream each over real gRPC, no process, no data
// plane). Every node heartbeats every 500 ms and reports RTTs to the peers
// the controller names, with a Vivaldi coordinate, every few seconds.
// Phases:
//   1. yardstick: --yardstick-nodes nodes, membership churn and canopyctl
//      runs, timed as below;
//   2. the rest attach; the controller's memory and its idle CPU (heartbeats
//      and RTT reports only) are read from /proc and divided by the nodes;
//   3. churn: --churn-rate membership changes per second for
//      --churn-seconds: tables pushed per second, the time from a
//      membership report to its MembershipAck (sent once the resulting
//      tables are pushed), the controller's CPU, and canopyctl's wall time
//      (process start to exit) run one after another meanwhile.
// Human-readable lines first; the last line is one JSON object.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/program.h"
#include "bench/controller/sim_node.h"
#include "bench/elapsed.h"
#include "bench/planner/latency_model.h"
#include "bench/planner/random.h"
#include "tests/testing/process.h"
#include "bench/relay/cpu_usage.h"
#include "proto/network_coordinate.h"

namespace canopy::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kHeartbeat = std::chrono::milliseconds(500);
constexpr int kNodesPerChannel = 100;  // Attach streams per HTTP/2 connection

struct Flags {
  int nodes = 1000;
  int groups = 100;
  int members = 20;
  int yardstick_nodes = 10;
  double churn_rate = 200;
  double churn_seconds = 10;
  int rtt_every = 10;  // heartbeats between RTT reports
  int ctl_runs = 40;
  uint64_t seed = 1;
};

// Nearest-rank percentile; 0 for no values.
double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// VmRSS of `pid` in KiB; 0 if unknown.
long RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

std::string GroupName(int g) { return absl::StrFormat("g%03d", g); }

// The simulated nodes and what the benchmark remembers of them. Nodes are
// only appended; the heartbeat thread and the churn loop share them.
//
// Thread-safe.
class Fleet {
 public:
  Fleet(std::string address, const Flags& flags)
      : address_(std::move(address)), flags_(flags), model_(flags.nodes, flags.seed) {}

  ~Fleet() { Stop(); }

  // Attaches nodes until there are `count`, and waits (up to `timeout`)
  // until the controller planned each one (SimulatedNode::attached). False
  // at the deadline.
  bool Grow(int count, absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      while (static_cast<int>(nodes_.size()) < count) {
        const int i = static_cast<int>(nodes_.size());
        if (i % kNodesPerChannel == 0) {
          grpc::ChannelArguments args;
          args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
          args.SetInt("canopy.bench.channel", i);
          channels_.push_back(
              grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
          stubs_.push_back(v1::Controller::NewStub(channels_.back()));
        }
        v1::NodeHello hello;
        hello.set_node_id(absl::StrFormat("n%04d", i));
        hello.set_data_address(absl::StrCat("127.0.0.1:", 20000 + i));
        hello.set_client_address(absl::StrCat("127.0.0.1:", 40000 + i));
        nodes_.push_back(std::make_unique<SimulatedNode>(stubs_.back().get(), hello));
        groups_of_.emplace_back();
        vivaldi_.emplace_back(flags_.seed * 7919 + static_cast<uint64_t>(i));
        nodes_.back()->Start();
      }
    }
    const absl::Time deadline = absl::Now() + timeout;
    for (int i = 0; i < count; ++i) {
      SimulatedNode* node = At(i);
      while (!node->attached()) {
        if (node->done() || absl::Now() > deadline) return false;
        std::this_thread::yield();
        absl::SleepFor(absl::Milliseconds(1));  // polling the stream, with a deadline
      }
    }
    return true;
  }

  SimulatedNode* At(int i) {
    absl::MutexLock lock(&mu_);
    return nodes_[static_cast<size_t>(i)].get();
  }

  int size() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(nodes_.size());
  }

  // Starts heartbeats (and RTT reports every rtt_every-th beat) for every
  // node, present and future.
  void StartHeartbeats() {
    beating_ = std::thread([this] {
      Clock::time_point next = Clock::now();
      for (int beat = 1;; ++beat) {
        next += kHeartbeat;
        {
          absl::MutexLock lock(&mu_);
          if (mu_.AwaitWithDeadline(absl::Condition(&stopping_),
                                    absl::Now() + absl::FromChrono(next - Clock::now()))) {
            return;
          }
          for (size_t i = 0; i < nodes_.size(); ++i) {
            nodes_[i]->SendHeartbeat();
            if (beat % flags_.rtt_every == static_cast<int>(i % flags_.rtt_every)) ReportRtts(i);
          }
        }
      }
    });
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (beating_.joinable()) beating_.join();
    std::vector<SimulatedNode*> all;
    {
      absl::MutexLock lock(&mu_);
      for (auto& n : nodes_) all.push_back(n.get());
    }
    for (SimulatedNode* n : all) n->Cancel();
    for (SimulatedNode* n : all) n->WaitDone(absl::Seconds(10));
  }

  // Node i's groups (a complete report is sent on every change).
  void Join(int i, int group) {
    std::vector<std::string> groups;
    {
      absl::MutexLock lock(&mu_);
      groups_of_[i].insert(group);
      for (int g : groups_of_[i]) groups.push_back(GroupName(g));
    }
    At(i)->SendMembership(groups);
  }

  // Flips node i's membership of `group`.
  void Toggle(int i, int group) {
    std::vector<std::string> groups;
    {
      absl::MutexLock lock(&mu_);
      if (!groups_of_[i].erase(group)) groups_of_[i].insert(group);
      for (int g : groups_of_[i]) groups.push_back(GroupName(g));
    }
    At(i)->SendMembership(groups);
  }

  uint64_t TablesReceived() const {
    absl::MutexLock lock(&mu_);
    uint64_t total = 0;
    for (const auto& n : nodes_) total += n->tables();
    return total;
  }

  std::vector<double> TakeAckLatencies() {
    absl::MutexLock lock(&mu_);
    std::vector<double> out;
    for (auto& n : nodes_) {
      std::vector<double> some = n->TakeAckLatencies();
      out.insert(out.end(), some.begin(), some.end());
    }
    return out;
  }

  int Failed() const {
    absl::MutexLock lock(&mu_);
    int failed = 0;
    for (const auto& n : nodes_) failed += n->done() ? 1 : 0;
    return failed;
  }

 private:
  // Node i measures its probe peers (the latency model), moves its
  // coordinate and reports both.
  void ReportRtts(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const v1::ProbePeers peers = nodes_[i]->probe_peers();
    v1::NodeReport report;
    v1::RttReport* rtts = report.mutable_rtts();
    bool learnt = false;
    for (const v1::Hop& hop : peers.peers()) {
      int j = 0;
      if (hop.node_id().size() < 2 || !absl::SimpleAtoi(hop.node_id().substr(1), &j) || j < 0 ||
          j >= model_.size()) {
        continue;
      }
      const uint64_t rtt = model_.RttUs(static_cast<int>(i), j);
      NetworkCoordinate theirs;
      if (hop.has_coordinate()) {
        if (auto c = CoordinateFromProto(hop.coordinate()); c.ok()) theirs = *c;
      }
      learnt |= vivaldi_[i].Observe(hop.node_id(), theirs, static_cast<double>(rtt));
      v1::PeerRtt* p = rtts->add_peers();
      p->set_node_id(hop.node_id());
      p->set_rtt_us(rtt);
    }
    if (rtts->peers_size() == 0) return;
    if (learnt) *rtts->mutable_coordinate() = CoordinateToProto(vivaldi_[i].coordinate());
    nodes_[i]->Send(std::move(report));
  }

  const std::string address_;
  const Flags flags_;
  const LatencyModel model_;
  std::thread beating_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<v1::Controller::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<SimulatedNode>> nodes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::set<int>> groups_of_ ABSL_GUARDED_BY(mu_);
  std::vector<VivaldiClient> vivaldi_ ABSL_GUARDED_BY(mu_);
};

// Wall time of each canopyctl run (process start to exit), in ms, one after
// another until `stop` is set (at least one run).
std::vector<double> RunCanopyctl(const std::string& address, int runs, std::atomic<bool>& stop) {
  const std::vector<std::vector<std::string>> commands = {
      {"nodes"}, {"groups"}, {"tree", GroupName(0)}, {"stats"}};
  std::vector<double> out;
  for (int r = 0; r < runs && (r == 0 || !stop.load()); ++r) {
    std::vector<std::string> argv = {testing::BinaryPath("canopyctl"), "--controller", address};
    for (const std::string& a : commands[r % commands.size()]) argv.push_back(a);
    const Clock::time_point start = Clock::now();
    absl::StatusOr<std::unique_ptr<testing::Process>> ctl = testing::Process::Start(argv);
    if (!ctl.ok()) break;
    if (!(*ctl)->WaitForStdoutEnd(absl::Seconds(30))) break;
    out.push_back(MsSince(start));
  }
  return out;
}

struct ChurnResult {
  int events = 0;
  double seconds = 0;
  uint64_t tables = 0;
  double cpu_seconds = 0;
  std::vector<double> ack_ms;
  std::vector<double> ctl_ms;
};

// Membership churn over the first `active` nodes at `rate` per second for
// `seconds`, with canopyctl runs alongside.
ChurnResult Churn(Fleet& fleet, const Flags& flags, int active, double rate, double seconds,
                  int ctl_runs, pid_t controller, const std::string& address, Random& random) {
  ChurnResult result;
  fleet.TakeAckLatencies();  // only this phase's
  std::atomic<bool> stop{false};
  std::vector<double> ctl_ms;
  std::thread ctl([&] { ctl_ms = RunCanopyctl(address, ctl_runs, stop); });
  const uint64_t tables_before = fleet.TablesReceived();
  const double cpu_before = ProcessCpuSeconds(controller);
  const Clock::time_point start = Clock::now();
  const auto gap = std::chrono::duration<double>(1.0 / rate);
  Clock::time_point next = start;
  while (MsSince(start) < seconds * 1000) {
    fleet.Toggle(static_cast<int>(random.Uniform(static_cast<uint64_t>(active))),
                 static_cast<int>(random.Uniform(static_cast<uint64_t>(flags.groups))));
    ++result.events;
    next += std::chrono::duration_cast<Clock::duration>(gap);
    std::this_thread::sleep_until(next);  // pacing the offered load
  }
  result.seconds = MsSince(start) / 1000;
  result.cpu_seconds = ProcessCpuSeconds(controller) - cpu_before;
  result.tables = fleet.TablesReceived() - tables_before;
  stop = true;
  ctl.join();
  result.ctl_ms = std::move(ctl_ms);
  // Acks still on their way are waited for (bounded), so the slow ones count.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<double> acks = fleet.TakeAckLatencies();
  size_t waiting = 1;
  while (waiting > 0 && absl::Now() < deadline) {
    waiting = 0;
    for (int i = 0; i < active; ++i) waiting += fleet.At(i)->unacked();
    if (waiting > 0) absl::SleepFor(absl::Milliseconds(5));  // polling, with a deadline
    std::vector<double> more = fleet.TakeAckLatencies();
    acks.insert(acks.end(), more.begin(), more.end());
  }
  result.ack_ms = std::move(acks);
  return result;
}

void PrintChurn(const char* name, int nodes, const ChurnResult& r) {
  std::printf("%s: %d nodes, %d membership changes in %.1f s: %.0f tables pushed/s, report to "
              "ack (tables pushed) p50 %.2f ms p99 %.2f ms (%zu acks), controller CPU %.0f%%, "
              "canopyctl p50 %.1f ms p99 %.1f ms (%zu runs)\n",
              name, nodes, r.events, r.seconds, r.tables / r.seconds,
              Percentile(r.ack_ms, 0.5), Percentile(r.ack_ms, 0.99), r.ack_ms.size(),
              100 * r.cpu_seconds / r.seconds, Percentile(r.ctl_ms, 0.5),
              Percentile(r.ctl_ms, 0.99), r.ctl_ms.size());
}

int Run(const Flags& flags) {
  const std::string tmp = std::filesystem::temp_directory_path().string();
  const std::string store = absl::StrCat(tmp, "/bench-controller-", getpid(), ".db");
  std::remove(store.c_str());
  absl::StatusOr<std::unique_ptr<testing::Process>> controller = testing::Process::Start(
      {testing::BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store", store,
       "--metrics-listen", "127.0.0.1:0", "--liveness-ms", "5000"});
  if (!controller.ok()) {
    std::fprintf(stderr, "bench-controller: %s\n", controller.status().ToString().c_str());
    return 1;
  }
  const pid_t pid = (*controller)->pid();
  std::optional<std::string> line = (*controller)->WaitForStdout("listening grpc=", absl::Seconds(20));
  if (!line) {
    std::fprintf(stderr, "bench-controller: the controller did not start: %s\n",
                 (*controller)->StderrTail().c_str());
    return 1;
  }
  const size_t at = line->find("grpc=") + 5;
  const std::string address = line->substr(at, line->find(' ', at) - at);
  const long rss_before = RssKib(pid);
  std::printf("bench-controller: controller at %s (%.1f MiB resident), %d nodes, %d groups x "
              "%d members, churn %.0f/s for %.1f s, seed %llu\n",
              address.c_str(), rss_before / 1024.0, flags.nodes, flags.groups, flags.members,
              flags.churn_rate, flags.churn_seconds, static_cast<unsigned long long>(flags.seed));

  Fleet fleet(address, flags);
  fleet.StartHeartbeats();
  Random random(flags.seed);
  auto populate = [&](int from, int to) {
    // Each group gets members among nodes [0, to) in proportion; its source
    // publishes through node g % to.
    for (int g = 0; g < flags.groups; ++g) {
      const int want = std::max(1, flags.members * (to - from) / flags.nodes);
      for (int k = 0; k < want; ++k) {
        fleet.Join(from + static_cast<int>(random.Uniform(static_cast<uint64_t>(to - from))), g);
      }
    }
  };
  auto publish_sources = [&](int count) {
    for (int i = 0; i < count && i < flags.groups; ++i) {
      v1::NodeReport report;
      for (int g = i; g < flags.groups; g += count) {
        v1::SourceKey* key = report.mutable_sources()->add_sources();
        key->set_group(GroupName(g));
        key->set_source(absl::StrCat("src-", GroupName(g)));
      }
      fleet.At(i)->Send(std::move(report));
    }
  };

  // ---- 1. Yardstick: a small overlay --------------------------------------
  const int small = std::min(flags.yardstick_nodes, flags.nodes);
  Clock::time_point t = Clock::now();
  if (!fleet.Grow(small, absl::Seconds(30))) {
    std::fprintf(stderr, "bench-controller: %d nodes did not attach: %s\n", small,
                 (*controller)->StderrTail().c_str());
    return 1;
  }
  populate(0, small);
  publish_sources(small);
  const ChurnResult yard = Churn(fleet, flags, small, flags.churn_rate, flags.churn_seconds / 2,
                                 flags.ctl_runs / 2, pid, address, random);
  PrintChurn("yardstick", small, yard);

  // ---- 2. Everyone attaches: memory and idle CPU -------------------------
  t = Clock::now();
  if (!fleet.Grow(flags.nodes, absl::Seconds(120))) {
    std::fprintf(stderr, "bench-controller: %d nodes did not attach (%d streams ended): %s\n",
                 flags.nodes, fleet.Failed(), (*controller)->StderrTail().c_str());
    return 1;
  }
  const double attach_ms = MsSince(t);
  populate(small, flags.nodes);
  publish_sources(std::min(flags.nodes, flags.groups));
  const long rss_after = RssKib(pid);
  const double kib_per_node =
      static_cast<double>(rss_after - rss_before) / static_cast<double>(flags.nodes);
  const double idle_cpu_before = ProcessCpuSeconds(pid);
  t = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a measuring window, not a wait
  const double idle_seconds = MsSince(t) / 1000;
  const double idle_cpu = ProcessCpuSeconds(pid) - idle_cpu_before;
  const double cpu_us_per_node_s = 1e6 * idle_cpu / idle_seconds / flags.nodes;
  std::printf("attach: %d nodes in %.0f ms; controller resident %.1f MiB: %.1f KiB per node; "
              "idle (heartbeats, RTT reports) CPU %.0f%%: %.1f us per node per second\n",
              flags.nodes, attach_ms, rss_after / 1024.0, kib_per_node,
              100 * idle_cpu / idle_seconds, cpu_us_per_node_s);

  // ---- 3. Churn at full size -----------------------------------------------
  const ChurnResult full = Churn(fleet, flags, flags.nodes, flags.churn_rate, flags.churn_seconds,
                                 flags.ctl_runs, pid, address, random);
  PrintChurn("churn", flags.nodes, full);
  const int failed = fleet.Failed();
  if (failed > 0) std::printf("warning: %d node streams ended early\n", failed);
  fleet.Stop();

  const double ack_p99 = Percentile(full.ack_ms, 0.99);
  const double ctl_p99 = Percentile(full.ctl_ms, 0.99);
  const double yard_ack_p99 = Percentile(yard.ack_ms, 0.99);
  const double yard_ctl_p99 = Percentile(yard.ctl_ms, 0.99);
  std::printf("ratios against the %d-node yardstick: report-to-ack p99 %.2fx, canopyctl p99 "
              "%.2fx\n",
              small, yard_ack_p99 > 0 ? ack_p99 / yard_ack_p99 : 0.0,
              yard_ctl_p99 > 0 ? ctl_p99 / yard_ctl_p99 : 0.0);
  std::printf("{\"nodes\":%d, \"kib_per_node\":%.1f, \"cpu_us_per_node_s\":%.2f, "
              "\"churn_cpu_percent\":%.1f, \"pushes_per_s\":%.1f, \"ack_p50_ms\":%.3f, "
              "\"ack_p99_ms\":%.3f, \"yardstick_ack_p99_ms\":%.3f, \"canopyctl_p99_ms\":%.1f, "
              "\"yardstick_canopyctl_p99_ms\":%.1f, \"failed_streams\":%d}\n",
              flags.nodes, kib_per_node, cpu_us_per_node_s, 100 * full.cpu_seconds / full.seconds,
              full.tables / full.seconds, Percentile(full.ack_ms, 0.5), ack_p99, yard_ack_p99,
              ctl_p99, yard_ctl_p99, failed);
  std::fflush(stdout);
  std::remove(store.c_str());
  return failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace canopy::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  canopy::bench::Flags flags;
  CLI::App app{
      "bench-controller: the real canopy-controller with simulated nodes over gRPC on "
      "loopback. The last line of output is one JSON object."};
  app.add_option("--nodes", flags.nodes, "Simulated nodes")
      ->check(canopy::IntegerIn(2, 5000))
      ->capture_default_str();
  app.add_option("--groups", flags.groups, "Groups, one source each")
      ->check(canopy::IntegerIn(1, 10000))
      ->capture_default_str();
  app.add_option("--members", flags.members, "Members per group")
      ->check(canopy::IntegerIn(1, 5000))
      ->capture_default_str();
  app.add_option("--yardstick-nodes", flags.yardstick_nodes, "Nodes of the yardstick phase")
      ->check(canopy::IntegerIn(1, 5000))
      ->capture_default_str();
  app.add_option("--churn-rate", flags.churn_rate, "Membership changes per second")
      ->check(canopy::NumberIn(1, 100000))
      ->capture_default_str();
  app.add_option("--churn-seconds", flags.churn_seconds, "Length of the churn phase")
      ->check(canopy::NumberIn(0.1, 3600))
      ->capture_default_str();
  app.add_option("--ctl-runs", flags.ctl_runs, "Most canopyctl runs during the churn phase")
      ->check(canopy::IntegerIn(1, 10000))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of every random choice")
      ->check(canopy::IntegerIn<uint64_t>(0, UINT64_MAX))
      ->capture_default_str();
  bool quick = false;
  app.add_flag("--quick", quick,
               "A few seconds for the test suite: 100 nodes, 10 groups x 5 members, 1.5 s of "
               "churn at 100/s (other flags are ignored)");
  if (std::optional<int> exit = canopy::ParseCommandLine(app, "bench-controller", argc, argv)) {
    return *exit;
  }
  if (quick) {
    flags.nodes = 100;
    flags.groups = 10;
    flags.members = 5;
    flags.churn_rate = 100;
    flags.churn_seconds = 1.5;
    flags.ctl_runs = 6;
  }
  return canopy::bench::Run(flags);
}
