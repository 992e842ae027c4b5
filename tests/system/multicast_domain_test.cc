// Native multicast discovery in the lab: nodes on a LAN find each other by
// TTL-1 probes and the controller forms one multicast domain per LAN; a LAN
// that starts dropping multicast loses its domain, and gets it back when
// multicast returns. The router forwards no multicast, so LANs never merge.

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);

// Node id -> its MULTICAST DOMAIN column ("-" for none), from
// `canopyctl nodes` run in the controller's namespace.
std::map<std::string, std::string> Domains(const Lab& lab, const std::string& controller) {
  Process ctl(lab.Command(1, 1, {BinaryPath("canopyctl"), "--controller", controller, "nodes"}));
  std::map<std::string, std::string> out;
  if (ctl.Wait(kWait) != 0) return out;
  for (const std::string& line : ctl.StdoutLines()) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 2 || fields[0] == "NODE") continue;
    out[fields[0]] = fields.back();
  }
  return out;
}

// Polls until `want` holds for every node it names.
bool AwaitDomains(const Lab& lab, const std::string& controller,
                  const std::map<std::string, std::string>& want, std::string* last) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    std::map<std::string, std::string> got = Domains(lab, controller);
    bool all = true;
    for (const auto& [node, domain] : want) all = all && got[node] == domain;
    if (all) return true;
    *last = "";
    for (const auto& [node, domain] : got) absl::StrAppend(last, node, "=", domain, " ");
    absl::SleepFor(absl::Milliseconds(200));  // poll interval
  }
  return false;
}

// Every process's stderr, for a failure message.
std::string Logs(Process& controller, std::vector<std::unique_ptr<Process>>& nodes) {
  std::string out = "\n--- controller\n" + controller.Stderr();
  for (auto& n : nodes) out += "\n--- node\n" + n->Stderr();
  return out;
}

TEST(MulticastDomainTest, EachLanIsOneDomainAndABlockedLanFallsOutAndBack) {
  LabOptions options;
  options.lans = 2;
  options.hosts_per_lan = 2;
  CANOPY_LAB_OR_SKIP(lab, options);
  const std::string controller = lab->HostAddress(1, 1) + ":7000";
  char dir_template[] = "/tmp/canopy-mcast-domain.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  absl::Cleanup remove_dir = [&dir] { std::filesystem::remove_all(dir); };
  const std::string store = dir + "/store.db";
  Process ctl_server(lab->Command(
      1, 1,
      // The lab's private addresses: plaintext on purpose.
      {BinaryPath("canopy-controller"), "--listen", controller, "--store", store, "--plaintext"}));
  ASSERT_TRUE(ctl_server.WaitForStdout("listening", kWait)) << ctl_server.Stderr();
  std::vector<std::unique_ptr<Process>> nodes;
  for (int l = 1; l <= 2; ++l) {
    for (int h = 1; h <= 2; ++h) {
      const std::string address = lab->HostAddress(l, h);
      nodes.push_back(std::make_unique<Process>(lab->Command(
          l, h,
          {BinaryPath("canopy-node"), "--id", absl::StrCat("n", l, h), "--controller", controller,
           "--listen", address + ":7001", "--data", address + ":7002", "--discovery-interval-ms",
           "200", "--probe-interval-ms", "0", "--plaintext"})));
      ASSERT_TRUE(nodes.back()->WaitForStdout("listening", kWait)) << nodes.back()->Stderr();
    }
  }
  std::string last;
  EXPECT_TRUE(AwaitDomains(
      *lab, controller,
      {{"n11", "n11,n12"}, {"n12", "n11,n12"}, {"n21", "n21,n22"}, {"n22", "n21,n22"}}, &last))
      << last << Logs(ctl_server, nodes);

  ASSERT_TRUE(lab->BlockMulticast(2, true).ok());
  EXPECT_TRUE(
      AwaitDomains(*lab, controller, {{"n11", "n11,n12"}, {"n21", "-"}, {"n22", "-"}}, &last))
      << last << Logs(ctl_server, nodes);

  ASSERT_TRUE(lab->BlockMulticast(2, false).ok());
  EXPECT_TRUE(AwaitDomains(*lab, controller, {{"n21", "n21,n22"}, {"n22", "n21,n22"}}, &last))
      << last << Logs(ctl_server, nodes);
}

}  // namespace
}  // namespace canopy::testing
