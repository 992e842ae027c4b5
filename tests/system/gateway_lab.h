#ifndef CANOPY_TESTS_SYSTEM_GATEWAY_LAB_H_
#define CANOPY_TESTS_SYSTEM_GATEWAY_LAB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/system/lab.h"
#include "tests/testing/process.h"
#include "tests/system/prometheus_text.h"

namespace canopy::testing {

// Helpers for gateway tests in the network-namespace lab: Canopy programs
// on lab hosts, unmodified programs found on $PATH, /metrics of a node in
// its namespace, and packet counters on a host.

// The absolute path of an installed program ("iperf", "curl", "nft"), or ""
// when it is not installed.
std::string InstalledProgram(const std::string& name);

// A controller on l1h1 (plaintext: the lab's private addresses), its store in
// `dir`; returns once it listens.
std::unique_ptr<Process> StartLabController(const Lab& lab, const std::string& dir);

// canopy-node on (lan, host), id "gw<lan><host>", attached to the lab
// controller, with `extra` flags (e.g. --gateway); returns once it listens.
std::unique_ptr<Process> StartLabNode(const Lab& lab, int lan, int host,
                                      const std::vector<std::string>& extra);

// /metrics of the node on (lan, host) (its default --metrics-listen,
// 127.0.0.1:7691 in its namespace), parsed strictly.
absl::StatusOr<std::map<std::string, PromFamily>> ScrapeLabNode(const Lab& lab, int lan, int host);

// The value of one sample of the node's /metrics (0 when absent or the
// scrape failed).
double LabNodeSample(const Lab& lab, int lan, int host, const std::string& name,
                     const std::map<std::string, std::string>& labels = {});

// Counts, on host (lan, host), the IPv4 packets that arrive for
// group:port (an nftables table per group in the host's namespace, before
// any socket sees them), in all and with IP TTL `ttl`.
struct PacketCounts {
  uint64_t all = 0;
  uint64_t with_ttl = 0;
};
absl::Status WatchPackets(const Lab& lab, int lan, int host, const std::string& group, int port,
                          int ttl);
absl::StatusOr<PacketCounts> ReadPackets(const Lab& lab, int lan, int host,
                                         const std::string& group);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_GATEWAY_LAB_H_
