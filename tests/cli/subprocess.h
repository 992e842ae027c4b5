#ifndef CANOPY_TESTS_CLI_SUBPROCESS_H_
#define CANOPY_TESTS_CLI_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace canopy::cli::testing {

// A child process whose stdout and stderr go to temporary files, read back
// on demand. The destructor kills (SIGKILL) and reaps it if it still runs and
// removes the files. Not thread-safe.
class Subprocess {
 public:
  // Starts argv[0] with the arguments. Aborts if fork/exec plumbing fails
  // (a broken test environment).
  explicit Subprocess(const std::vector<std::string>& argv);
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  // Waits for exit; the exit code (128+signal if killed), or nullopt at the
  // deadline.
  std::optional<int> Wait(absl::Duration timeout);
  // Waits until stdout contains `needle`; false at the deadline or if the
  // process exited without printing it.
  bool WaitForStdout(const std::string& needle, absl::Duration timeout);
  void Signal(int signal);

  std::string Stdout() const;
  std::string Stderr() const;

 private:
  bool Reap(bool block);

  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  std::optional<int> exit_code_;
};

// Path of the built binary `name`: build*/bin/NAME next to the test's own
// build*/tests/ folder (found through /proc/self/exe).
std::string BinaryPath(const std::string& name);

}  // namespace canopy::cli::testing

#endif  // CANOPY_TESTS_CLI_SUBPROCESS_H_
