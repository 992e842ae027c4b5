#ifndef CANOPY_TESTS_SYSTEM_REPLICAS_H_
#define CANOPY_TESTS_SYSTEM_REPLICAS_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "tests/testing/process.h"

namespace canopy::testing {

// True if Debian's etcd (package etcd-server, scripts/setup) is installed.
bool EtcdInstalled();

// A cluster of real etcd members (Debian's etcd-server) on loopback, with
// free ports and data in a temporary directory; every member is killed and
// the directory removed when it goes away.
class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 3);
  ~EtcdCluster();

  // Starts (again) member `i` with its data directory.
  void Start(int i);
  // SIGKILLs member `i` and waits for it to die.
  void Kill(int i);
  // Polls until every running member answers and the cluster has a leader;
  // false at the deadline.
  bool AwaitHealthy(absl::Duration timeout);

  // "http://127.0.0.1:PORT,..." for canopy-controller --etcd.
  std::string endpoints() const;
  std::string Logs() const;

 private:
  std::filesystem::path dir_;
  std::vector<uint16_t> client_ports_;
  std::vector<uint16_t> peer_ports_;
  std::vector<std::unique_ptr<Process>> members_;
  std::string retired_logs_;
};

// Controller replicas on an EtcdCluster (canopy-controller --etcd), each on
// its own free port. Every replica is killed when it goes away.
class ControllerReplicas {
 public:
  // Starts `count` replicas with `extra_args` (e.g. --etcd-lease-ttl-ms).
  ControllerReplicas(const EtcdCluster& etcd, int count, std::vector<std::string> extra_args = {});
  ~ControllerReplicas();

  // Polls until exactly one live replica leads (grpc.health.v1 "" SERVING)
  // and returns its index; nullopt at the deadline. Replicas in `ignore`
  // (paused ones) are not asked.
  std::optional<int> AwaitLeader(absl::Duration timeout, const std::vector<int>& ignore = {});
  // Whether replica `i` serves readiness now (it leads).
  bool Serving(int i);

  // SIGKILL / SIGSTOP / SIGCONT replica `i`.
  void Kill(int i);
  void Pause(int i);
  void Resume(int i);
  // Starts replica `i` again on its address after it died.
  void Restart(int i);

  const std::string& address(int i) const { return addresses_.at(i); }
  // Every replica's address, comma-separated (canopy-node --controller).
  std::string addresses() const;
  Process& process(int i) { return *processes_.at(i); }
  std::string Logs() const;

 private:
  void StartReplica(int i, const std::string& listen);

  std::string etcd_;
  std::vector<std::string> extra_args_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::string retired_logs_;
};

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_REPLICAS_H_
