// canopy-send: sends one file as an object to every subscriber of a group.
//
//   canopy-send FILE --node HOST:PORT --group G [--name N] [--source ID]
//               [--chunk-kib K] [--stripes K]
//               [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// A progress bar on a terminal; then one JSON line on stdout:
// {"name":…,"bytes":…,"seconds":…,"mbit_per_s":…,"sha256":…}. Exit 0 once
// the node accepted the whole object, 1 on a refusal or failure, 2 for a
// bad command line.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "canopy/object.h"
#include "canopy/publisher.h"
#include "client-sdk/examples/progress.h"
#include "proto/program.h"
#include "proto/tls_credentials.h"
#include "proto/validation.h"

int main(int argc, char** argv) {
  CLI::App app{"canopy-send: send a file as one object to a Canopy group"};
  std::string file, name;
  uint32_t chunk_kib = 1024;
  int stripes = 1;
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
    std::fprintf(stderr, "canopy-send: %s\n", sent.status().ToString().c_str());
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
  std::printf(
      "{\"name\":%s,\"bytes\":%llu,\"seconds\":%.3f,\"mbit_per_s\":%.1f,\"sha256\":\"%s\"}\n",
      canopy::examples::JsonString(sent->info.name).c_str(),
      static_cast<unsigned long long>(sent->info.size), sent->seconds, mbit,
      sent->info.sha256_hex.c_str());
  return 0;
}
