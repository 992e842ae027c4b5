#include "bench/relay/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy::bench {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    std::vector<std::string> argv, const std::string& stderr_path) {
  if (argv.empty() || access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot execute ", argv.empty() ? "" : argv[0]));
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err < 0) {
    close(out[0]);
    close(out[1]);
    return absl::InternalError("cannot open " + stderr_path);
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. The child dies with
    // the benchmark even if the benchmark is killed (no stray relays).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out[1], 1);
    dup2(err, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err);
  if (pid < 0) {
    close(out[0]);
    return absl::InternalError(absl::StrCat("cannot fork for ", argv[0]));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0], stderr_path));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, std::string stderr_path)
    : pid_(pid), stderr_path_(std::move(stderr_path)) {
  reader_ = std::thread([this, stdout_fd] { ReadLoop(stdout_fd); });
}

ChildProcess::~ChildProcess() {
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  // The pipe's write end closed with the process, so the reader ends.
  reader_.join();
}

void ChildProcess::ReadLoop(int fd) {
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      ended_ = true;
      break;
    }
    output_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle,
                                                     absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> found;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (absl::string_view line : absl::StrSplit(output_, '\n')) {
      // Only complete lines count (the last piece may still be growing).
      if (line.data() + line.size() == output_.data() + output_.size() && !ended_) break;
      if (line.find(needle) != absl::string_view::npos) {
        found = std::string(line);
        return true;
      }
    }
    return ended_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return found;
}

std::optional<std::string> ChildProcess::WaitForAllOutput(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout)) return std::nullopt;
  return output_;
}

std::string ChildProcess::StderrTail(size_t max_bytes) const {
  std::ifstream in(stderr_path_);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

std::string SiblingBinary(const std::string& name) {
  if (const char* dir = std::getenv("CANOPY_BIN_DIR")) return std::string(dir) + "/" + name;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / name).string();
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace canopy::bench
