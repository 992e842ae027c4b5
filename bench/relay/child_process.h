#ifndef CANOPY_BENCH_RELAY_CHILD_PROCESS_H_
#define CANOPY_BENCH_RELAY_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace canopy::bench {

// A child process of the benchmark (controller, node, iperf3). Its stdout is
// read line by line by a thread so the caller can wait for a line with a
// deadline; its stderr goes to a file (kept for error messages). The
// destructor kills the process (SIGKILL) and reaps it, so the benchmark never
// leaves processes behind, whatever path it exits by.
//
// Thread-safe.
class ChildProcess {
 public:
  // Starts argv[0] (an absolute path) with the arguments; stderr is appended
  // to `stderr_path`. Returns an error if the process cannot be started.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(std::vector<std::string> argv,
                                                             const std::string& stderr_path);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // The first stdout line containing `needle`, or nullopt at the deadline or
  // when stdout ended without it.
  std::optional<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);

  // Every stdout byte so far, once stdout has ended (the process exited) or
  // at the deadline (nullopt then).
  std::optional<std::string> WaitForAllOutput(absl::Duration timeout);

  // Last `max_bytes` of the stderr file, for error messages.
  std::string StderrTail(size_t max_bytes = 2000) const;

  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdout_fd, std::string stderr_path);
  void ReadLoop(int fd);

  const pid_t pid_;
  const std::string stderr_path_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// Absolute path of binary `name` next to this executable (build*/bin/), or
// in $CANOPY_BIN_DIR when set.
std::string SiblingBinary(const std::string& name);

// Absolute path of `name` on $PATH, or "" if there is none.
std::string FindOnPath(const std::string& name);

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_CHILD_PROCESS_H_
