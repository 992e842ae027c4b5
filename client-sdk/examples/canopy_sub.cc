// canopy-sub: prints each message of a group as one stdout line.
//
//   canopy-sub --node HOST:PORT --group G [--include S,... | --exclude S,...]
//              [--count N] [--with-source] [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// Prints "canopy-sub: joined G at node X" on stderr once the join is planned,
// "canopy-sub: gap: N message(s) of S lost before sequence Q" for every
// gap in a source's sequence, "canopy-sub: cut off from source S of G: WHY"
// while the overlay cannot bring a source here, and "canopy-sub: source S of
// G reachable again" when it can again.
// Ends after N messages with --count, or when interrupted.

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/subscriber.h"
#include "proto/validation.h"
#include "transport_flag.h"

int main(int argc, char** argv) {
  CLI::App app{"canopy-sub: print each message of a Canopy group as one line"};
  canopy::SubscriberOptions options;
  std::vector<std::string> include, exclude;
  uint64_t count = 0;
  bool with_source = false;
  double join_timeout_s = 10;
  app.add_option("--node", options.node_address, "local node's client endpoint HOST:PORT")
      ->required();
  app.add_option("--group", options.group, "group to join")
      ->required()
      ->check(canopy::CheckedBy(canopy::ValidateGroupName, "GROUP"));
  auto* inc = app.add_option("--include", include, "receive only from these sources")
                  ->check(canopy::ListOf(canopy::ValidateSourceId, "SOURCE"));
  app.add_option("--exclude", exclude, "receive from every source but these")
      ->check(canopy::ListOf(canopy::ValidateSourceId, "SOURCE"))
      ->excludes(inc);
  app.add_option("--count", count, "exit 0 after this many messages (0 = run until killed)")
      ->check(canopy::IntegerIn<uint64_t>(0, uint64_t{1} << 62));
  app.add_flag("--with-source", with_source, "prefix each line with 'SOURCE SEQUENCE '");
  app.add_option("--join-timeout", join_timeout_s, "seconds to wait for the join")
      ->capture_default_str()
      ->check(canopy::NumberIn(0, 86400));
  canopy::AddTransportFlag(app, options.transport);
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/false);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-sub", argc, argv)) return *exit_code;
  if (auto tls = canopy::ResolveTlsFlags(tls_flags); !tls.ok()) {
    std::fprintf(stderr, "canopy-sub: %s (see --help)\n",
                 std::string(tls.status().message()).c_str());
    return 2;
  } else if (tls->has_value()) {
    options.tls = canopy::ClientTlsFiles{(*tls)->ca, (*tls)->cert, (*tls)->key};
  }
  if (!include.empty()) {
    options.mode = canopy::FilterMode::kInclude;
    options.sources = canopy::SplitList(include);
  } else {
    options.mode = canopy::FilterMode::kExclude;
    options.sources = canopy::SplitList(exclude);
  }

  options.on_source_status = [group = options.group](const canopy::SourceStatus& status) {
    if (status.reachable) {
      std::fprintf(stderr, "canopy-sub: source %s of %s reachable again\n", status.source.c_str(),
                   group.c_str());
    } else {
      std::fprintf(stderr, "canopy-sub: cut off from source %s of %s: %s\n",
                   status.source.c_str(), group.c_str(), status.reason.c_str());
    }
  };
  auto subscriber = canopy::Subscriber::Open(options);
  if (!subscriber.ok()) {
    std::fprintf(stderr, "canopy-sub: %s\n", subscriber.status().ToString().c_str());
    return 2;
  }
  if (absl::Status s = (*subscriber)->WaitJoined(absl::Seconds(join_timeout_s)); !s.ok()) {
    std::fprintf(stderr, "canopy-sub: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "canopy-sub: joined %s at %s\n", options.group.c_str(),
               options.node_address.c_str());
  for (uint64_t received = 0; count == 0 || received < count; ++received) {
    absl::StatusOr<canopy::ReceivedMessage> m = (*subscriber)->Next();
    if (!m.ok()) {
      std::fprintf(stderr, "canopy-sub: %s\n", m.status().ToString().c_str());
      return 1;
    }
    if (m->missed_before > 0) {
      std::fprintf(stderr, "canopy-sub: gap: %llu message(s) of %s lost before sequence %llu\n",
                   static_cast<unsigned long long>(m->missed_before), m->source.c_str(),
                   static_cast<unsigned long long>(m->sequence));
    }
    if (with_source) {
      std::printf("%s %llu %s\n", m->source.c_str(), static_cast<unsigned long long>(m->sequence),
                  m->payload.c_str());
    } else {
      std::fwrite(m->payload.data(), 1, m->payload.size(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
  }
  return 0;
}
