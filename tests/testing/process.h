#ifndef CANOPY_TESTS_TESTING_PROCESS_H_
#define CANOPY_TESTS_TESTING_PROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace canopy::testing {

// A child process of a test or benchmark (controller, node, clients,
// canopyctl, iperf3) with its stdin, stdout and stderr on pipes. Output is
// collected by reader threads so callers can wait for a line with a
// deadline. The destructor kills the process (SIGKILL) if it still runs and
// reaps it, so a failing test or benchmark never leaves processes behind.
// The one process spawner of tests/ and bench/.
//
// Thread-safe.
class Process {
 public:
  // Starts `argv[0]` (a path) with the arguments. Aborts if spawning fails
  // (a broken test environment, not a product failure).
  explicit Process(std::vector<std::string> argv);
  // Starts `argv[0]` (a path) with the arguments; an error if it cannot be
  // spawned (for benchmarks, which report instead of aborting).
  static absl::StatusOr<std::unique_ptr<Process>> Start(std::vector<std::string> argv);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Writes to the child's stdin; CloseStdin() sends EOF.
  bool WriteStdin(const std::string& data);
  void CloseStdin();

  // Waits until a stdout (or stderr) line contains `needle`; returns it, or
  // nullopt at the deadline or when the stream ended without it.
  std::optional<std::string> WaitForStdout(const std::string& needle, absl::Duration timeout);
  std::optional<std::string> WaitForStderr(const std::string& needle, absl::Duration timeout);

  // Waits until stdout has at least `n` lines; false at the deadline.
  bool WaitForStdoutLines(size_t n, absl::Duration timeout);

  std::vector<std::string> StdoutLines() const;
  // Every byte written to stdout / stderr so far, exactly.
  std::string Stdout() const;
  std::string Stderr() const;
  // The last `max_bytes` of stderr, for error messages.
  std::string StderrTail(size_t max_bytes = 2000) const;
  // All of stdout once it ended (the process exited or closed it); nullopt
  // at the deadline.
  std::optional<std::string> WaitForStdoutEnd(absl::Duration timeout);

  // Sends `signal`.
  void Signal(int signal);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt
  // at the deadline.
  std::optional<int> Wait(absl::Duration timeout);
  bool running();
  // The child's process id (for /proc readings).
  pid_t pid() const { return pid_; }
  // Once it exited (Wait): the most memory it ever held resident, in KiB
  // (its VmHWM, from wait4's rusage); nullopt before.
  std::optional<long> PeakRssKib() const;

 private:
  Process() = default;
  // Spawns the child and starts the reader threads.
  absl::Status Spawn(std::vector<std::string> argv);

  struct Stream {
    std::string text;  // every byte, as written
    std::vector<std::string> lines;
    std::string partial;
    bool ended = false;
  };
  void ReadLoop(int fd, Stream* stream);
  std::optional<std::string> WaitFor(Stream* stream, const std::string& needle,
                                     absl::Duration timeout);
  void Reap(bool block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records how the child ended.
  void Exited(int status, const rusage& usage) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::thread out_thread_;
  std::thread err_thread_;
  mutable absl::Mutex mu_;
  Stream out_ ABSL_GUARDED_BY(mu_);
  Stream err_ ABSL_GUARDED_BY(mu_);
  std::optional<int> exit_code_ ABSL_GUARDED_BY(mu_);
  std::optional<long> peak_rss_kib_ ABSL_GUARDED_BY(mu_);
};

// Path of a built binary: $CANOPY_BIN_DIR/name; else `name` beside this
// executable when it is there (benchmarks live in build/bin/); else
// build/bin/name for an executable in build/tests/.
std::string BinaryPath(const std::string& name);

// Absolute path of `name` on $PATH, or "" if there is none.
std::string FindOnPath(const std::string& name);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_TESTING_PROCESS_H_
