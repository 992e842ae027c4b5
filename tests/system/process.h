#ifndef CANOPY_TESTS_SYSTEM_PROCESS_H_
#define CANOPY_TESTS_SYSTEM_PROCESS_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace canopy::testing {

// A child process with its stdin, stdout and stderr on pipes. Output lines
// are collected by reader threads so tests can wait for a line with a
// deadline. The destructor kills the process (SIGKILL) if it still runs, so
// a failing test never leaves processes behind.
//
// Thread-safe.
class Process {
 public:
  // Starts `argv[0]` with the arguments. Aborts the test binary if fork/exec
  // plumbing fails (a broken test environment, not a product failure).
  explicit Process(std::vector<std::string> argv);
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
  std::string Stderr() const;

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
  struct Stream {
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

// Path of a built binary: $CANOPY_BIN_DIR/name, else bin/name next to the
// test executable's own folder (build/tests → build/bin).
std::string BinaryPath(const std::string& name);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_PROCESS_H_
