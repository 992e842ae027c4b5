// param_broadcast: a trainer pushes a checkpoint to many GPU workers.
//
//   param_broadcast --role trainer --node HOST:PORT --group G [--source ID]
//                   [--tensors N] [--tensor-kib K] [--seed S]
//   param_broadcast --role worker --node HOST:PORT --group G [--max-mib M]
//   (both: [--tls-ca FILE --tls-cert FILE --tls-key FILE])
//
// The trainer builds a safetensors-style file in memory (an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the tensors back to back) and sends it as one
// object. Each worker receives it into one contiguous buffer allocated up
// front — where a GPU worker would register pinned memory and copy each
// chunk to the device from `on_chunk` as it lands — checks that the header's
// tensors lie inside what arrived, and reports. Both print one JSON line:
//   {"role":…, "bytes":…, "tensors":…, "seconds":…, "sha256":…, …}
// Checkpoint and buffer are at most 4096 MiB (--tensors × --tensor-kib,
// --max-mib); exit 2 for a bad command line, 1 for a failure.

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/object.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "proto/validation.h"

namespace {

// Bounds of the trainer's checkpoint (held in memory whole) and of the
// worker's buffer.
constexpr int kMaxTensors = 1 << 16;
constexpr uint64_t kMaxCheckpointMib = 4 << 10;

// A safetensors-style checkpoint of `tensors` float32 tensors of
// `tensor_bytes` each, filled from `seed`.
std::string BuildCheckpoint(int tensors, size_t tensor_bytes, uint64_t seed) {
  std::string header = "{";
  for (int i = 0; i < tensors; ++i) {
    const size_t begin = i * tensor_bytes, end = begin + tensor_bytes;
    absl::StrAppend(&header, i == 0 ? "" : ",", "\"layer_", i, ".weight\":{\"dtype\":\"F32\",",
                    "\"shape\":[", tensor_bytes / 4, "],\"data_offsets\":[", begin, ",", end, "]}");
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // 8-byte aligned tensors
  std::string file(8 + header.size() + tensors * tensor_bytes, '\0');
  const uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) file[b] = static_cast<char>(n >> (8 * b));
  std::memcpy(file.data() + 8, header.data(), header.size());
  std::mt19937_64 rng(seed);
  for (size_t at = 8 + header.size(); at + 8 <= file.size(); at += 8) {
    const uint64_t v = rng();
    std::memcpy(file.data() + at, &v, 8);
  }
  return file;
}

// Counts the tensors of a received checkpoint and checks that each one's
// byte range lies inside the data. Returns -1 for a malformed checkpoint.
int CountTensors(const char* data, uint64_t size) {
  if (size < 8) return -1;
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = (n << 8) | static_cast<unsigned char>(data[b]);
  if (n > size - 8) return -1;
  const std::string header(data + 8, n);
  const uint64_t data_bytes = size - 8 - n;
  int tensors = 0;
  for (size_t at = header.find("\"data_offsets\":["); at != std::string::npos;
       at = header.find("\"data_offsets\":[", at + 1)) {
    const size_t open = at + 16, comma = header.find(',', open), close = header.find(']', open);
    uint64_t begin = 0, end = 0;
    if (comma == std::string::npos || close == std::string::npos ||
        !absl::SimpleAtoi(header.substr(open, comma - open), &begin) ||
        !absl::SimpleAtoi(header.substr(comma + 1, close - comma - 1), &end) || begin > end ||
        end > data_bytes) {
      return -1;
    }
    ++tensors;
  }
  return tensors;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"param_broadcast: push a checkpoint from a trainer to every worker"};
  std::string role, node, group;
  int tensors = 64;
  uint32_t tensor_kib = 4096;
  uint64_t seed = 1;
  uint32_t max_mib = 1024;
  app.add_option("--role", role, "trainer or worker")
      ->required()
      ->check(CLI::IsMember({"trainer", "worker"}));
  app.add_option("--node", node, "local node's client endpoint HOST:PORT")->required();
  app.add_option("--group", group, "group of the workers")
      ->required()
      ->check(canopy::CheckedBy(canopy::ValidateGroupName, "GROUP"));
  app.add_option("--tensors", tensors, "trainer: number of tensors")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, kMaxTensors));
  app.add_option("--tensor-kib", tensor_kib, "trainer: KiB per tensor")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, kMaxCheckpointMib << 10));
  app.add_option("--seed", seed, "trainer: seed of the tensor values")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(0, UINT64_MAX));
  app.add_option("--max-mib", max_mib, "worker: size of the receive buffer in MiB")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, kMaxCheckpointMib));
  std::string source = "trainer-" + std::to_string(getpid());
  app.add_option("--source", source, "trainer: publisher id (default trainer-PID)")
      ->check(canopy::CheckedBy(canopy::ValidateSourceId, "SOURCE"));
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/false);
  if (auto exit_code = canopy::ParseCommandLine(app, "param_broadcast", argc, argv)) {
    return *exit_code;
  }
  std::optional<canopy::ClientTlsFiles> tls;
  if (auto resolved = canopy::ResolveTlsFlags(tls_flags); !resolved.ok()) {
    std::fprintf(stderr, "param_broadcast: %s (see --help)\n",
                 std::string(resolved.status().message()).c_str());
    return 2;
  } else if (resolved->has_value()) {
    tls = canopy::ClientTlsFiles{(*resolved)->ca, (*resolved)->cert, (*resolved)->key};
  }
  // The trainer holds the whole checkpoint in memory.
  if (role == "trainer" &&
      uint64_t{tensor_kib} * static_cast<uint64_t>(tensors) > (kMaxCheckpointMib << 10)) {
    std::fprintf(stderr,
                 "param_broadcast: --tensors %d x --tensor-kib %u is more than %llu MiB "
                 "(see --help)\n",
                 tensors, tensor_kib, static_cast<unsigned long long>(kMaxCheckpointMib));
    return 2;
  }

  if (role == "trainer") {
    const std::string checkpoint = BuildCheckpoint(tensors, size_t{tensor_kib} * 1024, seed);
    canopy::PublisherOptions pub_options;
    pub_options.node_address = node;
    pub_options.group = group;
    pub_options.source = source;
    pub_options.tls = tls;
    auto pub = canopy::Publisher::Open(pub_options);
    if (!pub.ok()) {
      std::fprintf(stderr, "param_broadcast: %s\n", pub.status().ToString().c_str());
      return 1;
    }
    auto sent = canopy::SendObject(**pub, "checkpoint.safetensors", checkpoint);
    absl::StatusOr<canopy::PublishResult> done =
        sent.ok() ? (*pub)->Finish() : absl::StatusOr<canopy::PublishResult>(sent.status());
    if (!done.ok()) {
      std::fprintf(stderr, "param_broadcast: %s\n", done.status().ToString().c_str());
      return 1;
    }
    std::printf(
        "{\"role\":\"trainer\",\"bytes\":%zu,\"tensors\":%d,\"seconds\":%.3f,"
        "\"sha256\":\"%s\"}\n",
        checkpoint.size(), tensors, sent->seconds, sent->info.sha256_hex.c_str());
    return 0;
  }

  canopy::SubscriberOptions sub_options;
  sub_options.node_address = node;
  sub_options.group = group;
  sub_options.tls = tls;
  auto sub = canopy::Subscriber::Open(sub_options);
  if (!sub.ok() || !(*sub)->WaitJoined(absl::Seconds(30)).ok()) {
    std::fprintf(stderr, "param_broadcast: cannot join %s at %s\n", group.c_str(), node.c_str());
    return 1;
  }
  std::fprintf(stderr, "param_broadcast: worker joined %s\n", group.c_str());
  // One contiguous buffer, allocated before anything arrives.
  const size_t capacity = size_t{max_mib} << 20;
  std::unique_ptr<char[]> buffer(new (std::nothrow) char[capacity]);
  if (buffer == nullptr) {
    std::fprintf(stderr, "param_broadcast: no memory for a buffer of %u MiB (--max-mib)\n",
                 max_mib);
    return 1;
  }
  canopy::ObjectReceiver receiver(**sub);
  canopy::ReceiveObjectOptions options;
  uint64_t landed = 0;
  options.on_chunk = [&](uint64_t, absl::string_view bytes) {
    landed += bytes.size();  // a GPU worker would start the device copy here
  };
  auto got = receiver.ReceiveInto(absl::MakeSpan(buffer.get(), capacity), options);
  if (!got.ok()) {
    std::fprintf(stderr, "param_broadcast: %s\n", got.status().ToString().c_str());
    return 1;
  }
  const int count = CountTensors(buffer.get(), got->info.size);
  if (count < 0 || landed != got->info.size) {
    std::fprintf(stderr, "param_broadcast: the checkpoint's header does not match its data\n");
    return 1;
  }
  std::printf(
      "{\"role\":\"worker\",\"bytes\":%llu,\"tensors\":%d,\"seconds\":%.3f,"
      "\"first_byte_seconds\":%.3f,\"sha256\":\"%s\"}\n",
      static_cast<unsigned long long>(got->info.size), count, got->seconds, got->first_byte_seconds,
      got->info.sha256_hex.c_str());
  return 0;
}
