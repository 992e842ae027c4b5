// canopy-pub: publishes each line of standard input as one message.
//
//   canopy-pub --node HOST:PORT --group G [--source ID]
//              [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// Exits 0 once stdin ends and the node has accepted every message; a refused
// publisher exits 1 with the node's reason on stderr.

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "transport_flag.h"
#include "canopy/publisher.h"
#include "proto/program.h"
#include "proto/tls_credentials.h"
#include "proto/validation.h"

int main(int argc, char** argv) {
  CLI::App app{"canopy-pub: publish each stdin line as one message to a Canopy group"};
  canopy::PublisherOptions options;
  options.source = "pub-" + std::to_string(getpid());
  app.add_option("--node", options.node_address, "local node's client endpoint HOST:PORT")
      ->required();
  app.add_option("--group", options.group, "group to publish to")
      ->required()
      ->check(canopy::CheckedBy(canopy::ValidateGroupName, "GROUP"));
  app.add_option("--source", options.source, "publisher id (default pub-PID)")
      ->check(canopy::CheckedBy(canopy::ValidateSourceId, "SOURCE"));
  canopy::AddTransportFlag(app, options.transport);
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/false);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-pub", argc, argv)) return *exit_code;
  if (auto tls = canopy::ResolveTlsFlags(tls_flags); !tls.ok()) {
    std::fprintf(stderr, "canopy-pub: %s (see --help)\n",
                 std::string(tls.status().message()).c_str());
    return 2;
  } else if (tls->has_value()) {
    options.tls = canopy::ClientTlsFiles{(*tls)->ca, (*tls)->cert, (*tls)->key};
  }

  auto publisher = canopy::Publisher::Open(options);
  if (!publisher.ok()) {
    std::fprintf(stderr, "canopy-pub: %s\n", publisher.status().ToString().c_str());
    // 2 for a malformed option, 1 when the node refused or is unreachable.
    return absl::IsInvalidArgument(publisher.status()) ? 2 : 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (absl::Status s = (*publisher)->Send(line); !s.ok()) {
      std::fprintf(stderr, "canopy-pub: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  absl::StatusOr<canopy::PublishResult> result = (*publisher)->Finish();
  if (!result.ok()) {
    std::fprintf(stderr, "canopy-pub: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr,
               "canopy-pub: %llu messages (%llu bytes) accepted for group %s as %s, "
               "sequences %llu..%llu\n",
               static_cast<unsigned long long>(result->messages),
               static_cast<unsigned long long>(result->bytes), options.group.c_str(),
               options.source.c_str(), static_cast<unsigned long long>(result->first_sequence),
               static_cast<unsigned long long>(result->last_sequence));
  return 0;
}
