// Chaos soak in the network-namespace lab: a `reliable` stream keeps
// flowing while relays are killed and restarted, the controller restarts
// and a subscriber stalls, for a fixed number of rounds. At the end every
// subscriber holds exactly the published sequence, no process crashed and
// node memory stayed bounded. Prints the faults injected, the recovery time
// per fault (p50 / max) and the frames replayed.

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr int kRounds = 6;
constexpr int kBatch = 300;  // messages published before and after each fault
// Delivered before the first fault: the stream is established.
constexpr int kWarmup = 100;
// A node that grows past this is not bounded by its replay ring.
constexpr long kMaxNodeRssKib = 512 * 1024;

std::string Message(int i) {
  return absl::StrFormat("msg-%06d-%s", i, std::string(i % 13 * 40, 'x'));
}

long PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Frames the "child ... resumes" log lines say a node sent again.
long FramesReplayed(const std::string& log) {
  static const std::regex resume("after sequence ([0-9]+); this node is at ([0-9]+)");
  long total = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), resume); it != std::sregex_iterator();
       ++it) {
    total += std::max(0L, std::stol((*it)[2]) - std::stol((*it)[1]));
  }
  return total;
}

class Soak {
 public:
  explicit Soak(const Lab& lab) : lab_(lab) {}

  std::string Address(int host) const { return lab_.HostAddress(1, host); }
  std::string Controller() const { return Address(1) + ":7000"; }
  std::string Clients(int host) const { return Address(host) + ":7001"; }

  void StartController(const std::string& store, const std::string& links) {
    controller_ = std::make_unique<Process>(
        lab_.Command(1, 1,
                     {BinaryPath("canopy-controller"), "--listen", Controller(), "--store", store,
                      "--links", links, "--liveness-ms", "600",
                      // The lab's private addresses: plaintext on purpose.
                      "--plaintext"}));
    ASSERT_TRUE(controller_->WaitForStdout("listening", kWait)) << controller_->Stderr();
  }
  void StopController(int signal) {
    controller_->Signal(signal);
    controller_->Wait(kWait);
    retired_controller_logs_ += controller_->Stderr() + "--- (stopped)\n";
  }
  void RestartController(const std::string& store, const std::string& links) {
    controller_->Signal(SIGKILL);
    controller_->Wait(kWait);
    retired_controller_logs_ += controller_->Stderr() + "--- (restarted)\n";
    StartController(store, links);
  }

  void StartNode(int host, int max_fanout) {
    auto node = std::make_unique<Process>(lab_.Command(
        1, host,
        {BinaryPath("canopy-node"), "--id", absl::StrCat("h", host), "--controller", Controller(),
         "--listen", Clients(host), "--data", Address(host) + ":7002", "--max-fanout",
         std::to_string(max_fanout), "--probe-interval-ms", "0", "--plaintext"}));
    ASSERT_TRUE(node->WaitForStdout("listening", kWait)) << node->Stderr();
    if (nodes_.count(host)) {
      retired_logs_ +=
          absl::StrCat("\n--- h", host, " (before its restart)\n", nodes_[host]->Stderr());
    }
    nodes_[host] = std::move(node);
  }
  void KillNode(int host) {
    nodes_[host]->Signal(SIGKILL);
    nodes_[host]->Wait(kWait);
  }

  Process& node(int host) { return *nodes_.at(host); }
  // Waits until node `host` logged its `n`th attach to a controller.
  bool AwaitAttaches(int host, int n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      const std::string log = nodes_.at(host)->Stderr();
      int count = 0;
      for (size_t at = log.find("attached to controller"); at != std::string::npos;
           at = log.find("attached to controller", at + 1)) {
        ++count;
      }
      if (count >= n) return true;
      absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
    }
    return false;
  }
  std::map<int, std::unique_ptr<Process>>& nodes() { return nodes_; }
  std::string AllNodeLogs() {
    std::string logs = retired_logs_ + "\n--- controller\n" + retired_controller_logs_ +
                       (controller_ ? controller_->Stderr() : "");
    for (auto& [host, node] : nodes_) logs += absl::StrCat("\n--- h", host, "\n", node->Stderr());
    return logs;
  }

 private:
  const Lab& lab_;
  std::unique_ptr<Process> controller_;
  std::map<int, std::unique_ptr<Process>> nodes_;
  std::string retired_logs_;
  std::string retired_controller_logs_;
};

TEST(ChaosTest, ReliableStreamSurvivesKilledRelaysRestartedControllerAndStalledSubscriber) {
  LabOptions options;
  options.lans = 1;
  options.hosts_per_lan = 5;
  CANOPY_LAB_OR_SKIP(lab, options);
  // h1 is the ingress; h2 (cheaper) and h3 are the relays towards the
  // subscribers' nodes h4 and h5.
  char dir_template[] = "/tmp/canopy-chaos.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  absl::Cleanup remove_dir = [&dir] { std::filesystem::remove_all(dir); };
  const std::string links = dir + "/links", store = dir + "/store.db";
  std::ofstream(links) << "h1 h2 100\nh1 h3 300\nh2 h4 100\nh2 h5 100\nh3 h4 100\nh3 h5 100\n";

  Soak soak(*lab);
  ASSERT_NO_FATAL_FAILURE(soak.StartController(store, links));
  for (int host = 1; host <= 5; ++host) ASSERT_NO_FATAL_FAILURE(soak.StartNode(host, 0));

  const int total = kWarmup + kRounds * 2 * kBatch;
  std::vector<std::unique_ptr<Process>> subs;
  for (int host : {4, 5}) {
    subs.push_back(std::make_unique<Process>(
        lab->Command(1, host,
                     {BinaryPath("canopy-sub"), "--node", soak.Clients(host), "--group", "soak",
                      "--count", std::to_string(total), "--join-timeout", "30"})));
    ASSERT_TRUE(subs.back()->WaitForStderr("joined", kWait)) << subs.back()->Stderr();
  }
  Process pub(lab->Command(1, 1,
                           {BinaryPath("canopy-pub"), "--node", soak.Clients(1), "--group", "soak",
                            "--source", "trainer"}));
  std::vector<std::string> published;
  auto publish = [&](int n) {
    std::string lines;
    for (int i = 0; i < n; ++i) {
      published.push_back(Message(static_cast<int>(published.size()) + 1));
      lines += published.back() + "\n";
    }
    ASSERT_TRUE(pub.WriteStdin(lines));
  };

  ASSERT_NO_FATAL_FAILURE(publish(kWarmup));
  for (auto& sub : subs) {
    ASSERT_TRUE(sub->WaitForStdoutLines(kWarmup, kWait)) << sub->Stderr() << soak.AllNodeLogs();
  }

  std::vector<double> recovery_ms;
  std::vector<std::string> faults;
  for (int round = 1; round <= kRounds; ++round) {
    ASSERT_NO_FATAL_FAILURE(publish(kBatch));
    const absl::Time fault_at = absl::Now();
    switch (round % 3) {
      case 1: {  // a relay dies mid-stream and comes back
        const int relay = round % 2 == 1 ? 2 : 3;
        soak.KillNode(relay);
        faults.push_back(absl::StrCat("kill h", relay));
        ASSERT_NO_FATAL_FAILURE(publish(kBatch));
        ASSERT_NO_FATAL_FAILURE(soak.StartNode(relay, 0));
        break;
      }
      case 2:  // the controller restarts (policy durable, membership soft)
        ASSERT_NO_FATAL_FAILURE(soak.RestartController(store, links));
        faults.push_back("restart controller");
        ASSERT_NO_FATAL_FAILURE(publish(kBatch));
        break;
      case 0:  // a subscriber stops reading for a while
        subs[0]->Signal(SIGSTOP);
        faults.push_back("stall subscriber at h4");
        ASSERT_NO_FATAL_FAILURE(publish(kBatch));
        absl::SleepFor(absl::Milliseconds(1500));  // the stall itself, not a wait
        subs[0]->Signal(SIGCONT);
        break;
    }
    // Recovered once every subscriber holds everything published so far.
    for (auto& sub : subs) {
      ASSERT_TRUE(sub->WaitForStdoutLines(published.size(), kWait))
          << "round " << round << " (" << faults.back() << "): " << sub->StdoutLines().size()
          << " of " << published.size() << "\n"
          << sub->Stderr() << soak.AllNodeLogs();
    }
    recovery_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - fault_at));
  }
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(kWait), 0) << pub.Stderr();

  for (auto& sub : subs) {
    ASSERT_EQ(sub->Wait(kWait), 0) << sub->Stderr();
    EXPECT_EQ(sub->StdoutLines(), published) << "exactly the published sequence, in order";
    EXPECT_THAT(sub->Stderr(), ::testing::Not(::testing::HasSubstr("gap:")));
  }
  for (auto& [host, node] : soak.nodes()) {
    EXPECT_TRUE(node->running()) << "h" << host << " crashed:\n" << node->Stderr();
    EXPECT_LT(PeakRssKib(node->pid()), kMaxNodeRssKib) << "h" << host;
  }
  std::vector<double> sorted = recovery_ms;
  std::sort(sorted.begin(), sorted.end());
  const long replayed = FramesReplayed(soak.AllNodeLogs());
  std::printf("chaos: %zu faults injected (", faults.size());
  for (size_t i = 0; i < faults.size(); ++i) std::printf("%s%s", i ? ", " : "", faults[i].c_str());
  std::printf(
      "); recovery p50 %.0f ms, max %.0f ms; %ld frames replayed; %d messages delivered "
      "to each of 2 subscribers\n",
      sorted[sorted.size() / 2], sorted.back(), replayed, total);
}

// The same promise on a chain with no detour (h1–h2–h3): the relay h2
// dies and comes back, and the controller restarts (SIGTERM and kill -9)
// with the three nodes re-attaching in a random order — the ingress often
// before the relay it needs.
TEST(ChaosTest, ChainWithoutDetourSurvivesRelayDeathsAndRestartsInAnyOrder) {
  LabOptions options;
  options.lans = 1;
  options.hosts_per_lan = 3;
  CANOPY_LAB_OR_SKIP(lab, options);
  char dir_template[] = "/tmp/canopy-chaos.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  absl::Cleanup remove_dir = [&dir] { std::filesystem::remove_all(dir); };
  const std::string links = dir + "/links", store = dir + "/store.db";
  std::ofstream(links) << "h1 h2 100\nh2 h3 100\n";

  Soak soak(*lab);
  ASSERT_NO_FATAL_FAILURE(soak.StartController(store, links));
  for (int host = 1; host <= 3; ++host) ASSERT_NO_FATAL_FAILURE(soak.StartNode(host, 0));
  Process sub(lab->Command(1, 3,
                           {BinaryPath("canopy-sub"), "--node", soak.Clients(3), "--group", "soak",
                            "--join-timeout", "30"}));
  ASSERT_TRUE(sub.WaitForStderr("joined", kWait)) << sub.Stderr();
  Process pub(lab->Command(1, 1,
                           {BinaryPath("canopy-pub"), "--node", soak.Clients(1), "--group", "soak",
                            "--source", "trainer"}));
  std::vector<std::string> published;
  auto publish = [&](int n) {
    std::string lines;
    for (int i = 0; i < n; ++i) {
      published.push_back(Message(static_cast<int>(published.size()) + 1));
      lines += published.back() + "\n";
    }
    ASSERT_TRUE(pub.WriteStdin(lines));
  };
  std::mt19937 random(7);
  std::map<int, int> attaches = {{1, 1}, {2, 1}, {3, 1}};
  for (int round = 1; round <= kRounds; ++round) {
    ASSERT_NO_FATAL_FAILURE(publish(kBatch));
    if (round % 3 == 1) {
      soak.KillNode(2);
      ASSERT_NO_FATAL_FAILURE(publish(kBatch));
      ASSERT_NO_FATAL_FAILURE(soak.StartNode(2, 0));
      attaches[2] = 1;
      // Counting from its first attach: the next round may stop it before.
      ASSERT_TRUE(soak.AwaitAttaches(2, attaches[2]))
          << "round " << round << ": the restarted h2 did not attach\n"
          << soak.AllNodeLogs();
    } else {
      for (int host = 1; host <= 3; ++host) soak.node(host).Signal(SIGSTOP);
      ASSERT_NO_FATAL_FAILURE(publish(kBatch));
      if (round % 3 == 2) {
        ASSERT_NO_FATAL_FAILURE(soak.RestartController(store, links));  // kill -9
      } else {
        ASSERT_NO_FATAL_FAILURE(soak.StopController(SIGTERM));
        ASSERT_NO_FATAL_FAILURE(soak.StartController(store, links));
      }
      std::vector<int> order = {1, 2, 3};
      std::shuffle(order.begin(), order.end(), random);
      for (int host : order) {
        soak.node(host).Signal(SIGCONT);
        ASSERT_TRUE(soak.AwaitAttaches(host, ++attaches[host]))
            << "round " << round << ": h" << host << " did not re-attach\n" << soak.AllNodeLogs();
      }
    }
    ASSERT_TRUE(sub.WaitForStdoutLines(published.size(), kWait))
        << "round " << round << ": " << sub.StdoutLines().size() << " of " << published.size()
        << "\n" << sub.Stderr() << soak.AllNodeLogs();
  }
  pub.CloseStdin();
  ASSERT_EQ(pub.Wait(kWait), 0) << pub.Stderr();
  EXPECT_EQ(sub.StdoutLines(), published) << "exactly the published sequence, in order";
  EXPECT_THAT(sub.Stderr(), ::testing::Not(::testing::HasSubstr("gap:")));
}

}  // namespace
}  // namespace canopy::testing
