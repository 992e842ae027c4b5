#ifndef CANOPY_TESTS_SYSTEM_LAB_H_
#define CANOPY_TESTS_SYSTEM_LAB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace canopy::testing {

// What Lab::Create builds (scripts/lab up; topology in docs/lab.md).
struct LabOptions {
  int lans = 2;                        // 1..9 LANs, LAN l is 10.77.l.0/24
  int hosts_per_lan = 2;               // 1..50 hosts per LAN: 10.77.l.11, .12, ...
  std::optional<int> rate_mbit;        // tc tbf on every host link, both directions
  std::vector<int> no_multicast_lans;  // LANs whose hosts drop multicast from the start
};

// Bytes that crossed a LAN's uplink (the router's veth towards the LAN).
struct UplinkCounters {
  uint64_t into_lan = 0;    // router → LAN
  uint64_t out_of_lan = 0;  // LAN → router
  uint64_t total() const { return into_lan + out_of_lan; }
};

// A network-namespace lab: LANs (a Linux bridge each, with host namespaces)
// joined by a router namespace that forwards unicast but not multicast. The
// destructor tears the whole lab down (scripts/lab down), so a failing test
// never leaves namespaces behind; a lab whose test process was killed is
// removed by the next Create (scripts/lab clean --stale) or by hand
// (scripts/lab clean).
//
// LAN and host numbers start at 1, as in the lab's host names ("l1h2").
//
// Thread-safe: every method is const except the destructor.
class Lab {
 public:
  // Builds a lab with a tag unique to this process and instance.
  // Returns UNAVAILABLE (message: the reason) when labs cannot run here — not
  // root, no `ip netns`, a missing tool — which tests turn into GTEST_SKIP()
  // (CANOPY_LAB_OR_SKIP below); any other error is a failure.
  static absl::StatusOr<std::unique_ptr<Lab>> Create(const LabOptions& options = {});

  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;
  ~Lab();

  const std::string& tag() const { return tag_; }
  const LabOptions& options() const { return options_; }

  // "10.77.<lan>.<10 + host>".
  std::string HostAddress(int lan, int host) const;
  // The router's address on LAN `lan`: "10.77.<lan>.1".
  std::string RouterAddress(int lan) const;
  // Network namespace names ("cnplab-<tag>-l<lan>h<host>", "cnplab-<tag>-r").
  std::string NamespaceOf(int lan, int host) const;
  std::string RouterNamespace() const;

  // Command prefix that runs a program inside host (lan, host):
  // {"/usr/sbin/ip", "netns", "exec", NS}; append an absolute program path and
  // its arguments and hand the result to Process. The pid Process sees is the
  // program's own (ip netns exec execs it), so Process can signal it directly.
  std::vector<std::string> Exec(int lan, int host) const;
  // Exec(lan, host) followed by `argv`.
  std::vector<std::string> Command(int lan, int host, const std::vector<std::string>& argv) const;
  // The same for the router namespace.
  std::vector<std::string> RouterCommand(const std::vector<std::string>& argv) const;

  // Drops (true) or again allows (false) IPv4 multicast, 224.0.0.0/4, in and
  // out of every host of LAN `lan` (an nftables table in each host).
  absl::Status BlockMulticast(int lan, bool blocked) const;

  // Byte counters of LAN `lan`'s uplink; take two readings and subtract.
  absl::StatusOr<UplinkCounters> UplinkBytes(int lan) const;

  // Runs `argv` to completion (at most `timeout`, then it is killed); returns
  // its exit code and fills `out` (stdout lines joined by '\n') if given.
  static absl::StatusOr<int> Run(const std::vector<std::string>& argv, absl::Duration timeout,
                                 std::string* out = nullptr, std::string* err = nullptr);

  // Names of the existing network namespaces (`ip netns list`).
  static absl::StatusOr<std::vector<std::string>> ListNamespaces();

  // Path of scripts/lab: $CANOPY_LAB_SCRIPT, else the source tree's.
  static std::string ScriptPath();

 private:
  Lab(std::string tag, LabOptions options);
  absl::StatusOr<std::string> Script(const std::vector<std::string>& args,
                                     absl::Duration timeout) const;
  absl::Status CheckHost(int lan, int host) const;

  const std::string tag_;
  const LabOptions options_;
};

}  // namespace canopy::testing

// In a TEST body: creates lab `var` (a std::unique_ptr<Lab>) from `options`,
// skips the test when labs are unavailable here and fails it on any other
// error.
#define CANOPY_LAB_OR_SKIP(var, options)                                                  \
  auto var##_or = ::canopy::testing::Lab::Create(options);                                \
  if (absl::IsUnavailable(var##_or.status())) {                                           \
    GTEST_SKIP() << "network-namespace lab unavailable: " << var##_or.status().message(); \
  }                                                                                       \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                                        \
  std::unique_ptr<::canopy::testing::Lab> var = *std::move(var##_or)

#endif  // CANOPY_TESTS_SYSTEM_LAB_H_
