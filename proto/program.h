#ifndef CANOPY_PROTO_PROGRAM_H_
#define CANOPY_PROTO_PROGRAM_H_

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"

namespace canopy {

// Conventions every Canopy program keeps (README "Command lines").

// Parses the command line: --help prints usage and gives exit code 0; a bad
// flag prints one line "NAME: reason (see --help)" on stderr and gives 2.
// Returns nullopt when the program should go on, else its exit code.
inline std::optional<int> ParseCommandLine(CLI::App& app, const char* name, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name, e.what());
    return 2;
  }
  return std::nullopt;
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

// Waits for SIGINT or SIGTERM; returns the signal number.
inline int WaitForShutdownSignal(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
  return signal;
}

}  // namespace canopy

#endif  // CANOPY_PROTO_PROGRAM_H_
