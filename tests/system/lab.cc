#include "tests/system/lab.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/testing/process.h"

#ifndef CANOPY_SOURCE_DIR
#error "CANOPY_SOURCE_DIR must name the source tree (set by tests/system/CMakeLists.txt)"
#endif

namespace canopy::testing {
namespace {

constexpr int kUnavailableExit = 77;
constexpr absl::Duration kScriptTimeout = absl::Seconds(60);

// Absolute path of `name` from $PATH (plus the sbin folders, which a non-login
// root shell may lack); "" when absent.
std::string FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  absl::StrAppend(&path, ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin");
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

const std::string& IpPath() {
  static const std::string* path = [] {
    std::string p = FindProgram("ip");
    return new std::string(p.empty() ? "/usr/sbin/ip" : p);
  }();
  return *path;
}

}  // namespace

std::string Lab::ScriptPath() {
  if (const char* script = std::getenv("CANOPY_LAB_SCRIPT")) return script;
  return std::string(CANOPY_SOURCE_DIR) + "/scripts/lab";
}

absl::StatusOr<int> Lab::Run(const std::vector<std::string>& argv, absl::Duration timeout,
                             std::string* out, std::string* err) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("Lab::Run needs an absolute program path");
  }
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no program ", argv[0]));
  }
  const absl::Time deadline = absl::Now() + timeout;
  Process process(argv);
  process.CloseStdin();
  std::optional<int> code = process.Wait(timeout);
  if (!code) {
    process.Signal(SIGKILL);
    process.Wait(absl::Seconds(5));
    return absl::DeadlineExceededError(absl::StrCat(absl::StrJoin(argv, " "), " did not finish in ",
                                                    absl::FormatDuration(timeout), ": ",
                                                    process.Stderr()));
  }
  // Process::Wait may return before the reader threads drained the pipes:
  // wait (bounded) until both streams ended, so no output line is missed.
  constexpr char kNever[] = "\001canopy-lab: never printed\001";
  process.WaitForStdout(kNever, std::max(deadline - absl::Now(), absl::Seconds(1)));
  process.WaitForStderr(kNever, std::max(deadline - absl::Now(), absl::Seconds(1)));
  if (out) *out = absl::StrJoin(process.StdoutLines(), "\n");
  if (err) *err = process.Stderr();
  return *code;
}

absl::StatusOr<std::vector<std::string>> Lab::ListNamespaces() {
  std::string out, err;
  absl::StatusOr<int> code = Run({IpPath(), "netns", "list"}, absl::Seconds(10), &out, &err);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("ip netns list: ", err));
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    // "NAME" or "NAME (id: N)".
    names.emplace_back(line.substr(0, line.find(' ')));
  }
  return names;
}

absl::StatusOr<std::unique_ptr<Lab>> Lab::Create(const LabOptions& options) {
  static std::atomic<int> counter{0};
  const std::string script = ScriptPath();
  if (access(script.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("no lab script at ", script));
  }
  const std::string bash = "/bin/bash";
  std::string out, err;

  // A lab whose test process died (e.g. killed at a ctest timeout) is removed
  // here; labs of live processes are left alone.
  absl::StatusOr<int> code = Run({bash, script, "clean", "--stale"}, kScriptTimeout, &out, &err);
  if (!code.ok()) return code.status();
  if (*code == kUnavailableExit)
    return absl::UnavailableError(std::string(absl::StripSuffix(err, "\n")));

  const std::string tag = absl::StrCat("t", getpid(), "n", counter.fetch_add(1));
  std::vector<std::string> argv = {bash,
                                   script,
                                   "up",
                                   tag,
                                   "--lans",
                                   absl::StrCat(options.lans),
                                   "--hosts-per-lan",
                                   absl::StrCat(options.hosts_per_lan),
                                   "--owner",
                                   absl::StrCat(getpid())};
  if (options.rate_mbit) {
    argv.push_back("--rate");
    argv.push_back(absl::StrCat(*options.rate_mbit));
  }
  for (int lan : options.no_multicast_lans) {
    argv.push_back("--no-multicast-lan");
    argv.push_back(absl::StrCat(lan));
  }
  code = Run(argv, kScriptTimeout, &out, &err);
  if (code.ok() && *code == 0) return std::unique_ptr<Lab>(new Lab(tag, options));
  // The script tears down after its own failures; this also covers a timeout.
  Run({bash, script, "down", tag}, kScriptTimeout).IgnoreError();
  if (!code.ok()) return code.status();
  if (*code == kUnavailableExit) return absl::UnavailableError(err);
  return absl::InternalError(
      absl::StrCat("scripts/lab up ", tag, " failed (exit ", *code, "): ", err));
}

Lab::Lab(std::string tag, LabOptions options)
    : tag_(std::move(tag)), options_(std::move(options)) {}

Lab::~Lab() {
  std::string err;
  absl::StatusOr<int> code =
      Run({"/bin/bash", ScriptPath(), "down", tag_}, kScriptTimeout, nullptr, &err);
  if (!code.ok() || *code != 0) {
    std::fprintf(
        stderr, "lab %s: teardown failed: %s %s\n", tag_.c_str(),
        code.ok() ? absl::StrCat("exit ", *code).c_str() : code.status().ToString().c_str(),
        err.c_str());
  }
}

absl::StatusOr<std::string> Lab::Script(const std::vector<std::string>& args,
                                        absl::Duration timeout) const {
  std::vector<std::string> argv = {"/bin/bash", ScriptPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  absl::StatusOr<int> code = Run(argv, timeout, &out, &err);
  if (!code.ok()) return code.status();
  if (*code == kUnavailableExit) return absl::UnavailableError(err);
  if (*code != 0) {
    return absl::InternalError(absl::StrCat("scripts/lab ", absl::StrJoin(args, " "),
                                            " failed (exit ", *code, "): ", err));
  }
  return out;
}

absl::Status Lab::CheckHost(int lan, int host) const {
  if (lan < 1 || lan > options_.lans || host < 1 || host > options_.hosts_per_lan) {
    return absl::InvalidArgumentError(absl::StrCat("no host l", lan, "h", host, " in lab ", tag_));
  }
  return absl::OkStatus();
}

std::string Lab::HostAddress(int lan, int host) const {
  return absl::StrCat("10.77.", lan, ".", 10 + host);
}

std::string Lab::RouterAddress(int lan) const { return absl::StrCat("10.77.", lan, ".1"); }

std::string Lab::NamespaceOf(int lan, int host) const {
  return absl::StrCat("cnplab-", tag_, "-l", lan, "h", host);
}

std::string Lab::RouterNamespace() const { return absl::StrCat("cnplab-", tag_, "-r"); }

std::vector<std::string> Lab::Exec(int lan, int host) const {
  return {IpPath(), "netns", "exec", NamespaceOf(lan, host)};
}

std::vector<std::string> Lab::Command(int lan, int host,
                                      const std::vector<std::string>& argv) const {
  std::vector<std::string> full = Exec(lan, host);
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::vector<std::string> Lab::RouterCommand(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {IpPath(), "netns", "exec", RouterNamespace()};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

absl::Status Lab::BlockMulticast(int lan, bool blocked) const {
  if (absl::Status s = CheckHost(lan, 1); !s.ok()) return s;
  return Script({"block-multicast", tag_, absl::StrCat(lan), blocked ? "on" : "off"},
                kScriptTimeout)
      .status();
}

absl::StatusOr<UplinkCounters> Lab::UplinkBytes(int lan) const {
  if (absl::Status s = CheckHost(lan, 1); !s.ok()) return s;
  absl::StatusOr<std::string> out =
      Script({"uplink-bytes", tag_, absl::StrCat(lan)}, kScriptTimeout);
  if (!out.ok()) return out.status();
  // "into_lan=N out_of_lan=M"
  UplinkCounters counters;
  bool into = false, out_of = false;
  for (absl::string_view field :
       absl::StrSplit(absl::StripAsciiWhitespace(*out), ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(field, '=');
    if (kv.first == "into_lan") into = absl::SimpleAtoi(kv.second, &counters.into_lan);
    if (kv.first == "out_of_lan") out_of = absl::SimpleAtoi(kv.second, &counters.out_of_lan);
  }
  if (!into || !out_of) {
    return absl::InternalError(absl::StrCat("cannot parse uplink counters '", *out, "'"));
  }
  return counters;
}

}  // namespace canopy::testing
