#ifndef CANOPY_BASE_PROGRAM_H_
#define CANOPY_BASE_PROGRAM_H_

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/build_info.h"

namespace canopy {

// Conventions every Canopy program keeps (README "Command lines").

// Parses the command line: --help prints usage and --version the build
// (VersionLine, build_info.h), each with exit code 0; a bad flag prints one
// line "NAME: reason (see --help)" on stderr and gives 2. Returns nullopt
// when the program should go on, else its exit code.
// REQUIRES: the binary links canopy_build_info (canopy_binary does).
inline std::optional<int> ParseCommandLine(CLI::App& app, const char* name, int argc, char** argv) {
  app.set_version_flag("--version", VersionLine(name), "print the version and commit, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name, e.what());
    return 2;
  }
  return std::nullopt;
}

// Checks for the values of flags (CLI::Option::check), applied to the text
// as typed before CLI11 converts it, so that no value is absorbed: "-1"
// never wraps around to a huge unsigned number, "nan" never passes a range,
// "010" is not read as octal. A refusal names the flag, through
// ParseCommandLine: "NAME: --count: '-1' is not an integer from 0 to 100
// (see --help)", exit code 2.

// A plain decimal integer (an optional '-', digits, no leading zeros) from
// `min` to `max`. Works on a list flag's every item too.
template <typename T>
CLI::Validator IntegerIn(T min, T max) {
  static_assert(std::is_integral_v<T>, "IntegerIn is for integer flags");
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        const char* first = text.data();
        const char* last = text.data() + text.size();
        const char* digits = first + (text.size() > 1 && text[0] == '-' ? 1 : 0);
        T value{};
        const bool plain = digits < last && (last - digits == 1 || *digits != '0') &&
                           std::all_of(digits, last, [](char c) { return c >= '0' && c <= '9'; });
        const std::from_chars_result parsed = std::from_chars(first, last, value);
        if (!plain || parsed.ec != std::errc() || parsed.ptr != last || value < min ||
            value > max) {
          return "'" + text + "' is not an integer from " + range;
        }
        return std::string();
      },
      "INT " + range);
}

// A finite decimal number (no "nan", no "inf") from `min` to `max`.
inline CLI::Validator NumberIn(double min, double max) {
  auto shortest = [](double v) {
    char text[32];
    return std::string(text, std::to_chars(text, text + sizeof(text), v).ptr);
  };
  const std::string range = shortest(min) + " to " + shortest(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        const char* last = text.data() + text.size();
        double value = 0;
        const std::from_chars_result parsed = std::from_chars(text.data(), last, value);
        if (parsed.ec != std::errc() || parsed.ptr != last || !std::isfinite(value) ||
            value < min || value > max) {
          return "'" + text + "' is not a number from " + range;
        }
        return std::string();
      },
      "NUMBER " + range);
}

// A flag (or each item of a list flag) that `check` accepts, e.g.
// ValidateSourceId (proto/validation.h); `what` names the kind of value in
// --help. The refusal is `check`'s message.
inline CLI::Validator CheckedBy(std::function<absl::Status(absl::string_view)> check,
                                std::string what) {
  return CLI::Validator(
      [check = std::move(check)](std::string& text) -> std::string {
        const absl::Status status = check(text);
        if (status.ok()) return std::string();
        return "'" + text + "': " + std::string(status.message());
      },
      std::move(what));
}

// A comma-separated list (checked on each occurrence of a list flag): every
// entry must pass `check`, and an empty entry ("a,,b", ",,,", "a,") is
// refused rather than dropped. `what` names the entries in --help. Take
// the entries with SplitList() after parsing.
inline CLI::Validator ListOf(std::function<absl::Status(absl::string_view)> check,
                             std::string what) {
  return CLI::Validator(
      [check = std::move(check)](std::string& text) -> std::string {
        size_t start = 0;
        while (true) {
          const size_t comma = std::min(text.find(',', start), text.size());
          const absl::string_view entry(text.data() + start, comma - start);
          if (entry.empty()) return "'" + text + "' has an empty entry";
          if (const absl::Status status = check(entry); !status.ok()) {
            return "'" + std::string(entry) + "': " + std::string(status.message());
          }
          if (comma == text.size()) return std::string();
          start = comma + 1;
        }
      },
      what + ",...");
}

// The entries of a list flag checked with ListOf(): every occurrence split
// at its commas, in order.
inline std::vector<std::string> SplitList(const std::vector<std::string>& occurrences) {
  std::vector<std::string> entries;
  for (const std::string& text : occurrences) {
    size_t start = 0;
    for (size_t comma = text.find(','); comma != std::string::npos;
         start = comma + 1, comma = text.find(',', start)) {
      entries.push_back(text.substr(start, comma - start));
    }
    entries.push_back(text.substr(start));
  }
  return entries;
}

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts
// afterwards, so that WaitForShutdownSignal() alone receives them.
// REQUIRES: called before any thread is started.
inline sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Servers print one line on stdout once they listen, e.g.
// "canopy-node NAME listening clients=HOST:PORT data=HOST:PORT". Returns the
// value of `key` in such a line, or "" if it has none.
inline std::string ListeningField(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 1;
  return line.substr(start, line.find(' ', start) - start);
}

// Raises the soft limit on open files to the hard limit: a server holds a
// few descriptors per client, and the usual soft limit (1024) would cap
// its clients far below --max-subscriptions. Returns the soft limit now in
// force.
inline rlim_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return limit.rlim_cur;
}

// Waits for SIGINT or SIGTERM; returns the signal number.
inline int WaitForShutdownSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace canopy

#endif  // CANOPY_BASE_PROGRAM_H_
