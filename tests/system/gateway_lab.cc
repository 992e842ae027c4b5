#include "tests/system/gateway_lab.h"

#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace canopy::testing {
namespace {

constexpr absl::Duration kStart = absl::Seconds(60);
constexpr absl::Duration kCommand = absl::Seconds(20);
// The nftables table that counts packets to `group`.
std::string WatchTable(const std::string& group) {
  std::string name = "canopy_watch_" + group;
  for (char& c : name) c = c == '.' ? '_' : c;
  return name;
}

// The "packets N" of each counter line of `nft list table` output, in order.
std::vector<uint64_t> CounterPackets(const std::string& listing) {
  std::vector<uint64_t> out;
  for (absl::string_view line : absl::StrSplit(listing, '\n')) {
    const size_t at = line.find("counter packets ");
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + 16);
    uint64_t n = 0;
    if (absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &n)) out.push_back(n);
  }
  return out;
}

}  // namespace

std::string InstalledProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::unique_ptr<Process> StartLabController(const Lab& lab, const std::string& dir) {
  auto ctl = std::make_unique<Process>(
      lab.Command(1, 1,
                  {BinaryPath("canopy-controller"), "--listen", lab.HostAddress(1, 1) + ":7000",
                   "--store", dir + "/store.db", "--plaintext"}));
  EXPECT_TRUE(ctl->WaitForStdout("listening", kStart)) << ctl->Stderr();
  return ctl;
}

std::unique_ptr<Process> StartLabNode(const Lab& lab, int lan, int host,
                                      const std::vector<std::string>& extra) {
  const std::string address = lab.HostAddress(lan, host);
  std::vector<std::string> argv = {BinaryPath("canopy-node"),
                                   "--id",
                                   absl::StrCat("gw", lan, host),
                                   "--controller",
                                   lab.HostAddress(1, 1) + ":7000",
                                   "--listen",
                                   address + ":7001",
                                   "--data",
                                   address + ":7002",
                                   "--probe-interval-ms",
                                   "0",
                                   "--plaintext"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto node = std::make_unique<Process>(lab.Command(lan, host, argv));
  EXPECT_TRUE(node->WaitForStdout("listening", kStart)) << node->Stderr();
  return node;
}

absl::StatusOr<std::map<std::string, PromFamily>> ScrapeLabNode(const Lab& lab, int lan,
                                                                int host) {
  const std::string curl = InstalledProgram("curl");
  if (curl.empty()) return absl::UnavailableError("curl is not installed");
  std::string out, err;
  absl::StatusOr<int> code = Lab::Run(
      lab.Command(lan, host, {curl, "-sf", "--max-time", "5", "http://127.0.0.1:7691/metrics"}),
      kCommand, &out, &err);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::UnavailableError(absl::StrCat("curl exited ", *code, ": ", err));
  return ParsePrometheusText(out + "\n");
}

double LabNodeSample(const Lab& lab, int lan, int host, const std::string& name,
                     const std::map<std::string, std::string>& labels) {
  absl::StatusOr<std::map<std::string, PromFamily>> families = ScrapeLabNode(lab, lan, host);
  if (!families.ok()) return 0;
  return FindSample(*families, name, labels).value_or(0);
}

absl::Status WatchPackets(const Lab& lab, int lan, int host, const std::string& group, int port,
                          int ttl) {
  const std::string nft = InstalledProgram("nft");
  if (nft.empty()) return absl::UnavailableError("nft is not installed");
  const std::string table = WatchTable(group);
  const std::string match = absl::StrCat("ip daddr ", group, " udp dport ", port);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"add", "table", "ip", table},
           {"add", "chain", "ip", table, "in",
            "{ type filter hook prerouting priority -300; policy accept; }"},
           {"add", "rule", "ip", table, "in", match + " counter"},
           {"add", "rule", "ip", table, "in", absl::StrCat(match, " ip ttl ", ttl, " counter")}}) {
    std::vector<std::string> argv = {nft};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string err;
    absl::StatusOr<int> code = Lab::Run(lab.Command(lan, host, argv), kCommand, nullptr, &err);
    if (!code.ok()) return code.status();
    if (*code != 0) return absl::InternalError(absl::StrCat("nft ", args[0], ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<PacketCounts> ReadPackets(const Lab& lab, int lan, int host,
                                         const std::string& group) {
  std::string out, err;
  absl::StatusOr<int> code = Lab::Run(
      lab.Command(lan, host, {InstalledProgram("nft"), "list", "table", "ip", WatchTable(group)}),
      kCommand, &out, &err);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("nft list: ", err));
  const std::vector<uint64_t> counts = CounterPackets(out);
  if (counts.size() != 2) return absl::InternalError(absl::StrCat("nft listing: ", out));
  return PacketCounts{counts[0], counts[1]};
}

}  // namespace canopy::testing
