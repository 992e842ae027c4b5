// canopy-pub: publishes each line of standard input as one message.
//
//   canopy-pub --node HOST:PORT --group G [--source ID]
//              [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// Exits 0 once stdin ends and the node has accepted every message; a refused
// publisher exits 1 with the node's reason on stderr, also when the refusal
// comes while stdin is idle (noticed within kHealthPoll on a client link).

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "CLI/CLI.hpp"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/publisher.h"
#include "proto/validation.h"
#include "transport_flag.h"

namespace {

// How often a publisher waiting for stdin asks whether the node ended its
// stream.
constexpr int kHealthPollMs = 200;

// Publishes each line of stdin (a last line without a newline too) until
// stdin ends; returns the first error of the stream, noticed between lines
// as well as on a send.
absl::Status PublishLines(canopy::Publisher& publisher) {
  std::string pending;
  char buffer[1 << 16];
  for (;;) {
    if (absl::Status health = publisher.Health(); !health.ok()) return health;
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int ready = poll(&in, 1, kHealthPollMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::InternalError(std::string("poll stdin: ") + std::strerror(errno));
    if (ready == 0) continue;
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return absl::InternalError(std::string("read stdin: ") + std::strerror(errno));
    if (n == 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      if (absl::Status s = publisher.Send(absl::string_view(pending).substr(start, end - start));
          !s.ok()) {
        return s;
      }
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) return publisher.Send(pending);
  return absl::OkStatus();
}

}  // namespace

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
  if (absl::Status s = PublishLines(**publisher); !s.ok()) {
    std::fprintf(stderr, "canopy-pub: %s\n", s.ToString().c_str());
    return 1;
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
