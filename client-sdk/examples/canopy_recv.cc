// canopy-recv: receives objects sent to a group and writes each to a file.
//
//   canopy-recv --node HOST:PORT --group G --out DIR [--count N] [--force]
//               [--timeout-s S] [--max-mib M] [--transport auto|shm|link|grpc] [--member NAME]
//               [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// Writes DIR/NAME (through DIR/.NAME.partial, renamed once the object's
// SHA-256 matched); an existing DIR/NAME is refused before anything is
// written (exit 1) unless --force. An object larger than --max-mib is refused before
// anything is written (exit 1). A progress bar on a terminal; one JSON line
// per object on stdout: {"name":…,"bytes":…,"seconds":…,"mbit_per_s":…,
// "first_byte_seconds":…,"first_byte_unix":…,"sha256":…,"path":…}
// (first_byte_seconds from the start of waiting; first_byte_unix the wall
// clock when the first chunk landed). Each object whose SHA-256 matched is
// acknowledged to its sender (canopy-send --min-receivers), which names
// this receiver --member (default HOST:PID) when it is missing. Exit 0 after N objects, 1 on
// a failure (a name that is not a plain file name, a digest mismatch, the
// subscription ending), 2 for a bad command line.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/cleanup/cleanup.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/object.h"
#include "canopy/subscriber.h"
#include "client-sdk/examples/progress.h"
#include "proto/validation.h"
#include "transport_flag.h"

namespace {

// A name that is safe as one file in DIR.
bool PlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos && name[0] != '.';
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-recv: receive objects from a Canopy group into a directory"};
  canopy::SubscriberOptions options;
  std::string out_dir;
  int count = 1;
  bool force = false;
  double timeout_s = 0;
  uint64_t max_mib = canopy::kDefaultMaxObjectBytes >> 20;
  app.add_option("--node", options.node_address, "local node's client endpoint HOST:PORT")
      ->required();
  app.add_option("--group", options.group, "group to join")
      ->required()
      ->check(canopy::CheckedBy(canopy::ValidateGroupName, "GROUP"));
  app.add_option("--out", out_dir, "directory for the received files")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--count", count, "exit 0 after this many objects")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 1 << 30));
  app.add_flag("--force", force, "overwrite an existing DIR/NAME (default: refuse it, exit 1)");
  app.add_option("--timeout-s", timeout_s,
                 "give up on an object after this many seconds, the join included (0 = never)")
      ->check(canopy::NumberIn(0, 365 * 86400));
  app.add_option("--max-mib", max_mib,
                 "refuse an object larger than this many MiB before writing any of it")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(1, uint64_t{1} << 24));
  canopy::AddTransportFlag(app, options.transport);
  app.add_option("--member", options.member,
                 "this receiver's name where a sender waiting for receivers reports it missing "
                 "(default HOST:PID)")
      ->check(canopy::CheckedBy(canopy::ValidateMemberName, "NAME"));
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/false);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-recv", argc, argv)) return *exit_code;
  if (auto tls = canopy::ResolveTlsFlags(tls_flags); !tls.ok()) {
    std::fprintf(stderr, "canopy-recv: %s (see --help)\n",
                 std::string(tls.status().message()).c_str());
    return 2;
  } else if (tls->has_value()) {
    options.tls = canopy::ClientTlsFiles{(*tls)->ca, (*tls)->cert, (*tls)->key};
  }

  auto subscriber = canopy::Subscriber::Open(options);
  if (!subscriber.ok()) {
    std::fprintf(stderr, "canopy-recv: %s\n", subscriber.status().ToString().c_str());
    return 2;
  }
  const absl::Duration join_wait =
      timeout_s > 0 ? std::min(absl::Seconds(30), absl::Seconds(timeout_s)) : absl::Seconds(30);
  if (absl::Status s = (*subscriber)->WaitJoined(join_wait); !s.ok()) {
    std::fprintf(stderr, "canopy-recv: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "canopy-recv: joined %s at %s\n", options.group.c_str(),
               options.node_address.c_str());
  canopy::ObjectReceiver receiver(**subscriber);
  for (int n = 0; n < count; ++n) {
    int fd = -1;
    std::string partial, final_path;
    std::unique_ptr<canopy::examples::ProgressBar> bar;
    uint64_t landed = 0;
    absl::Cleanup close_fd = [&fd] {
      if (fd >= 0) close(fd);
    };
    canopy::ReceiveObjectOptions ro;
    if (timeout_s > 0) ro.timeout = absl::Seconds(timeout_s);
    ro.max_object_bytes = max_mib << 20;
    ro.on_start = [&](const canopy::ObjectInfo& info) -> absl::Status {
      if (!PlainFileName(info.name)) {
        return absl::InvalidArgumentError("object name '" + info.name +
                                          "' is not a plain file name; refusing to write it");
      }
      final_path = out_dir + "/" + info.name;
      // Checked here, before anything is written, and again by the rename.
      if (!force && access(final_path.c_str(), F_OK) == 0) {
        return absl::AlreadyExistsError(final_path + " exists; --force overwrites it");
      }
      partial = out_dir + "/." + info.name + ".partial";
      fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0)
        return absl::UnavailableError("cannot create " + partial + ": " + std::strerror(errno));
      if (ftruncate(fd, static_cast<off_t>(info.size)) != 0) {
        return absl::UnavailableError("cannot size " + partial + ": " + std::strerror(errno));
      }
      bar = std::make_unique<canopy::examples::ProgressBar>("canopy-recv " + info.name, info.size);
      return absl::OkStatus();
    };
    absl::Status write_error;
    ro.on_chunk = [&](uint64_t offset, absl::string_view bytes) {
      size_t done = 0;
      while (done < bytes.size() && write_error.ok()) {
        const ssize_t w =
            pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
          write_error = absl::UnavailableError(std::string("write: ") + std::strerror(errno));
        else
          done += static_cast<size_t>(w);
      }
      landed += bytes.size();
      if (bar) bar->Update(landed);
    };
    const absl::Time waiting_since = absl::Now();
    absl::StatusOr<canopy::ReceivedObject> got = receiver.ReceiveChunks(ro);
    if (got.ok() && !write_error.ok()) got = write_error;
    if (got.ok()) {
      // Without --force a file that appeared while receiving is kept.
      const int renamed = force ? rename(partial.c_str(), final_path.c_str())
                                : renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, final_path.c_str(),
                                            RENAME_NOREPLACE);
      if (renamed != 0 && errno == EEXIST) {
        got = absl::AlreadyExistsError(final_path + " exists; --force overwrites it");
      } else if (renamed != 0) {
        got =
            absl::UnavailableError("cannot rename to " + final_path + ": " + std::strerror(errno));
      }
    }
    if (!got.ok()) {
      if (!partial.empty()) unlink(partial.c_str());
      std::fprintf(stderr, "canopy-recv: %s\n", got.status().ToString().c_str());
      return 1;
    }
    const double mbit = got->seconds > 0 ? got->info.size * 8 / got->seconds / 1e6 : 0;
    std::printf(
        "{\"name\":%s,\"bytes\":%llu,\"seconds\":%.3f,\"mbit_per_s\":%.1f,"
        "\"first_byte_seconds\":%.3f,\"first_byte_unix\":%.6f,\"sha256\":\"%s\",\"path\":%s}\n",
        canopy::examples::JsonString(got->info.name).c_str(),
        static_cast<unsigned long long>(got->info.size), got->seconds, mbit,
        got->first_byte_seconds,
        absl::ToDoubleSeconds(waiting_since - absl::UnixEpoch()) + got->first_byte_seconds,
        got->info.sha256_hex.c_str(), canopy::examples::JsonString(final_path).c_str());
    std::fflush(stdout);
  }
  return 0;
}
