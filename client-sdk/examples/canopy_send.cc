// canopy-send: sends one file as an object to every subscriber of a group.
//
//   canopy-send FILE --node HOST:PORT --group G [--name N] [--source ID]
//               [--chunk-kib K] [--stripes K]
//               [--min-receivers N [--ack-timeout SECONDS]]
//               [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// A progress bar on a terminal; then one JSON line on stdout:
// {"name":…,"bytes":…,"seconds":…,"mbit_per_s":…,"sha256":…} (and
// "receivers":… with --min-receivers). Exit 0 once the node accepted the
// whole object and, with --min-receivers N, once N receivers acknowledged
// holding it verified; 1 on a refusal or failure, or when fewer than N
// held it within --ack-timeout (the message names who is missing); 2 for a
// bad command line.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/object.h"
#include "canopy/publisher.h"
#include "client-sdk/examples/progress.h"
#include "proto/validation.h"

int main(int argc, char** argv) {
  CLI::App app{"canopy-send: send a file as one object to a Canopy group"};
  std::string file, name;
  uint32_t chunk_kib = 1024;
  int stripes = 1;
  uint32_t min_receivers = 0;
  double ack_timeout_s = 30;
  canopy::PublisherOptions options;
  options.source = "send-" + std::to_string(getpid());
  app.add_option("FILE", file, "file to send")->required();
  app.add_option("--node", options.node_address, "local node's client endpoint HOST:PORT")
      ->required();
  app.add_option("--group", options.group, "group to send to")
      ->required()
      ->check(canopy::CheckedBy(canopy::ValidateGroupName, "GROUP"));
  app.add_option("--name", name, "object name (default: the file's base name)");
  app.add_option("--source", options.source, "publisher id (default send-PID)")
      ->check(canopy::CheckedBy(canopy::ValidateSourceId, "SOURCE"));
  app.add_option("--chunk-kib", chunk_kib, "chunk size in KiB")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, 15 * 1024));
  app.add_option("--stripes", stripes,
                 "split the object over this many flows, so a bulk group's planner can give "
                 "each its own tree (a striped forest)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 64));
  app.add_option("--min-receivers", min_receivers,
                 "after sending, wait until this many receivers hold the object verified; "
                 "exit 1 if fewer do within --ack-timeout")
      ->check(canopy::IntegerIn<uint32_t>(0, 1u << 24));
  app.add_option("--ack-timeout", ack_timeout_s,
                 "seconds to wait for --min-receivers after the object was sent")
      ->capture_default_str()
      ->check(canopy::NumberIn(0.1, 86400.0));
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/false);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-send", argc, argv)) return *exit_code;
  if (auto tls = canopy::ResolveTlsFlags(tls_flags); !tls.ok()) {
    std::fprintf(stderr, "canopy-send: %s (see --help)\n",
                 std::string(tls.status().message()).c_str());
    return 2;
  } else if (tls->has_value()) {
    options.tls = canopy::ClientTlsFiles{(*tls)->ca, (*tls)->cert, (*tls)->key};
  }

  auto publishers = canopy::OpenStripedPublishers(options, stripes);
  if (!publishers.ok()) {
    std::fprintf(stderr, "canopy-send: %s\n", publishers.status().ToString().c_str());
    return absl::IsInvalidArgument(publishers.status()) ? 2 : 1;
  }
  std::vector<canopy::Publisher*> stripe_publishers;
  for (const auto& p : *publishers) stripe_publishers.push_back(p.get());
  std::unique_ptr<canopy::examples::ProgressBar> bar;
  canopy::SendObjectOptions send_options;
  send_options.chunk_bytes = chunk_kib * 1024;
  send_options.min_receivers = min_receivers;
  send_options.ack_timeout = absl::Seconds(ack_timeout_s);
  send_options.on_progress = [&](uint64_t sent) {
    if (bar) bar->Update(sent);
  };
  // The size is known once the file is open; the bar starts with the first chunk.
  struct stat st {};
  if (stat(file.c_str(), &st) == 0)
    bar = std::make_unique<canopy::examples::ProgressBar>("canopy-send",
                                                          static_cast<uint64_t>(st.st_size));
  absl::StatusOr<canopy::SentObject> sent =
      canopy::SendFile(absl::MakeConstSpan(stripe_publishers), file, name, send_options);
  if (!sent.ok()) {
    if (absl::IsDeadlineExceeded(sent.status()) && min_receivers > 0) {
      std::fprintf(stderr, "canopy-send: sent, but fewer than %u receivers held it within %gs: %s\n",
                   min_receivers, ack_timeout_s, std::string(sent.status().message()).c_str());
    } else {
      std::fprintf(stderr, "canopy-send: %s\n", sent.status().ToString().c_str());
    }
    return 1;
  }
  for (const auto& p : *publishers) {
    absl::StatusOr<canopy::PublishResult> done = p->Finish();
    if (!done.ok()) {
      std::fprintf(stderr, "canopy-send: %s\n", done.status().ToString().c_str());
      return 1;
    }
  }
  const double mbit = sent->seconds > 0 ? sent->info.size * 8 / sent->seconds / 1e6 : 0;
  const std::string receivers =
      sent->acks ? ",\"receivers\":" + std::to_string(sent->acks->acked) : std::string();
  std::printf(
      "{\"name\":%s,\"bytes\":%llu,\"seconds\":%.3f,\"mbit_per_s\":%.1f,\"sha256\":\"%s\"%s}\n",
      canopy::examples::JsonString(sent->info.name).c_str(),
      static_cast<unsigned long long>(sent->info.size), sent->seconds, mbit,
      sent->info.sha256_hex.c_str(), receivers.c_str());
  return 0;
}
