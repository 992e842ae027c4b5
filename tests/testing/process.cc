#include "tests/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace canopy::testing {

Process::Process(std::vector<std::string> argv) {
  if (absl::Status s = Spawn(std::move(argv)); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    std::abort();
  }
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(std::vector<std::string> argv) {
  std::unique_ptr<Process> process(new Process());
  if (absl::Status s = process->Spawn(std::move(argv)); !s.ok()) return s;
  return process;
}

absl::Status Process::Spawn(std::vector<std::string> argv) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  if (pipe2(out, O_CLOEXEC) != 0) {
    const int e = errno;
    close(in[0]);
    close(in[1]);
    return absl::ErrnoToStatus(e, "pipe2");
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    return absl::ErrnoToStatus(e, "pipe2");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int spawned = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    for (int fd : {in[1], out[0], err[0]}) close(fd);
    pid_ = -1;
    absl::MutexLock lock(&mu_);
    exit_code_ = 127;
    out_.ended = err_.ended = true;
    return absl::ErrnoToStatus(spawned, "cannot start " + absl::StrJoin(argv, " "));
  }
  stdin_fd_ = in[1];
  signal(SIGPIPE, SIG_IGN);
  out_thread_ = std::thread([this, fd = out[0]] { ReadLoop(fd, &out_); });
  err_thread_ = std::thread([this, fd = err[0]] { ReadLoop(fd, &err_); });
  return absl::OkStatus();
}

Process::~Process() {
  {
    absl::MutexLock lock(&mu_);
    if (!exit_code_) {
      kill(pid_, SIGKILL);
      Reap(true);
    }
  }
  CloseStdin();
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void Process::ReadLoop(int fd, Stream* stream) {
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      if (!stream->partial.empty()) stream->lines.push_back(std::move(stream->partial));
      stream->ended = true;
      break;
    }
    stream->text.append(buf, n);
    stream->partial.append(buf, n);
    size_t start = 0, nl;
    while ((nl = stream->partial.find('\n', start)) != std::string::npos) {
      stream->lines.push_back(stream->partial.substr(start, nl - start));
      start = nl + 1;
    }
    stream->partial.erase(0, start);
  }
  close(fd);
}

bool Process::WriteStdin(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

void Process::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::string> Process::WaitFor(Stream* stream, const std::string& needle,
                                            absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> found;
  size_t checked = 0;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (; checked < stream->lines.size(); ++checked) {
      if (absl::StrContains(stream->lines[checked], needle)) {
        found = stream->lines[checked];
        return true;
      }
    }
    return stream->ended;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return found;
}

std::optional<std::string> Process::WaitForStdout(const std::string& needle,
                                                  absl::Duration timeout) {
  return WaitFor(&out_, needle, timeout);
}

std::optional<std::string> Process::WaitForStderr(const std::string& needle,
                                                  absl::Duration timeout) {
  return WaitFor(&err_, needle, timeout);
}

bool Process::WaitForStdoutLines(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return out_.lines.size() >= n || out_.ended;
  };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return out_.lines.size() >= n;
}

std::vector<std::string> Process::StdoutLines() const {
  absl::MutexLock lock(&mu_);
  return out_.lines;
}

std::string Process::Stdout() const {
  absl::MutexLock lock(&mu_);
  return out_.text;
}

std::string Process::Stderr() const {
  absl::MutexLock lock(&mu_);
  return err_.text;
}

std::string Process::StderrTail(size_t max_bytes) const {
  absl::MutexLock lock(&mu_);
  const std::string& text = err_.text;
  return text.size() <= max_bytes ? text : text.substr(text.size() - max_bytes);
}

std::optional<std::string> Process::WaitForStdoutEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&out_.ended), timeout)) return std::nullopt;
  return out_.text;
}

void Process::Signal(int signal) {
  absl::MutexLock lock(&mu_);
  if (!exit_code_) kill(pid_, signal);
}

void Process::Reap(bool block) {
  int status = 0;
  rusage usage{};
  pid_t r = wait4(pid_, &status, block ? 0 : WNOHANG, &usage);
  if (r != pid_) return;
  Exited(status, usage);
}

void Process::Exited(int status, const rusage& usage) {
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  peak_rss_kib_ = usage.ru_maxrss;
}

std::optional<long> Process::PeakRssKib() const {
  absl::MutexLock lock(&mu_);
  return peak_rss_kib_;
}

std::optional<int> Process::Wait(absl::Duration timeout) {
  // Exit is observed through waitpid; the stdout/stderr EOF wakes us early.
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!exit_code_) {
    Reap(false);
    if (exit_code_) break;
    auto streams_ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return out_.ended && err_.ended;
    };
    if (absl::Now() >= deadline) return std::nullopt;
    if (out_.ended && err_.ended) {
      // Output closed: the exit is imminent; block briefly in waitpid.
      mu_.Unlock();
      int status = 0;
      rusage usage{};
      pid_t r = wait4(pid_, &status, 0, &usage);
      mu_.Lock();
      if (r == pid_) Exited(status, usage);
      break;
    }
    mu_.AwaitWithTimeout(absl::Condition(&streams_ended), deadline - absl::Now());
  }
  // The exit can be seen before the readers drained the pipes: let them
  // finish, so callers see every line (bounded: a grandchild may hold the
  // pipes open).
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return out_.ended && err_.ended; };
  mu_.AwaitWithTimeout(
      absl::Condition(&drained),
      std::max(absl::ZeroDuration(), std::min(deadline - absl::Now(), absl::Seconds(5))));
  return exit_code_;
}

bool Process::running() {
  absl::MutexLock lock(&mu_);
  if (!exit_code_) Reap(false);
  return !exit_code_;
}

std::string BinaryPath(const std::string& name) {
  if (const char* dir = std::getenv("CANOPY_BIN_DIR")) return std::string(dir) + "/" + name;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  // Benchmarks live in build/bin/ beside the binaries; tests in build/tests/.
  const std::filesystem::path beside = self.parent_path() / name;
  if (std::filesystem::exists(beside, ec)) return beside.string();
  return (self.parent_path().parent_path() / "bin" / name).string();
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

}  // namespace canopy::testing
