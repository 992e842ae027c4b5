// bench-relay: the data plane on loopback with real processes (issue 5,
// "Measured"). One run measures the yardsticks (iperf3 single stream, or a
// built-in raw TCP sender/receiver when iperf3 is missing; a direct TCP
// ping-pong) and the relay (publisher → node → subscriber, a chain of 3
// relays, fan-out 1/2/4/8, latency through 1 and 3 relays, CPU of the
// relay processes), and prints ratios. In the same run a second overlay
// with mutual TLS everywhere (issue 9, "Measured": gRPC, node-to-node
// links and client links; certificates from scripts/make-certs) measures
// the one relay and the chain again, right after their plaintext phases,
// and prints TLS against plaintext. The last line is one JSON object.

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/program.h"
#include "bench/relay/cpu_usage.h"
#include "bench/relay/percentile.h"
#include "bench/relay/relay_flows.h"
#include "bench/relay/yardsticks.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"

namespace canopy::bench {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr int kFanouts[] = {1, 2, 4, 8};
constexpr int kMaxFanout = 8;

struct Config {
  double seconds = 3;
  size_t message_bytes = 1 << 20;
  double warmup_seconds = 0.5;
  size_t latency_bytes = 1024;
  double latency_rate = 2000;
  double latency_seconds = 2;
  bool quick = false;
  // Also measure with TLS (a second overlay).
  bool tls = true;
};

// The TLS overlay: h1 alone, c1-c2-c3 a chain.
constexpr const char* kTlsNodes[] = {"h1", "c1", "c2", "c3"};
constexpr char kTlsLinks[] = "c1 c2 100\nc2 c3 100\n";

// Deletes the certificates directory when it goes away.
struct TempDir {
  std::filesystem::path path;
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
};

// The protocol and suite of the TLS data link c1 -> c2 as c2 logged it
// ("TLSv1.3 TLS_AES_128_GCM_SHA256"); "unknown" if it did not.
std::string TlsSuite(const testing::Overlay& overlay) {
  const std::string log = overlay.node("c2").Stderr();
  const std::string needle = "] link from c1 (";
  const size_t at = log.find(needle);
  if (at == std::string::npos) return "unknown";
  const size_t start = log.find("): ", at);
  const size_t end = log.find('\n', at);
  if (start == std::string::npos || start > end) return "unknown";
  return log.substr(start + 3, end - start - 3);
}

// Static overlay links: h1 alone (one relay), c1-c2-c3 (a chain: the only
// path from c1 to c3 runs through c2), f0 to f1..f8 (a star).
std::string Links() {
  std::string links = "c1 c2 100\nc2 c3 100\n";
  for (int i = 1; i <= kMaxFanout; ++i) absl::StrAppend(&links, "f0 f", i, " 100\n");
  return links;
}

int Fail(const std::string& what, const absl::Status& status, const testing::Overlay* overlay) {
  std::fprintf(stderr, "bench-relay: %s: %s\n", what.c_str(), status.ToString().c_str());
  if (overlay != nullptr) std::fprintf(stderr, "%s\n", overlay->Logs().c_str());
  return 1;
}

double Gbps(double bytes_per_s) { return bytes_per_s * 8 / 1e9; }

// JSON number; %.6g is valid JSON for finite values.
std::string Num(double v) { return absl::StrFormat("%.6g", v); }

int Run(const Config& config) {
  const absl::Time began = absl::Now();
  const absl::Duration warmup = absl::Seconds(config.warmup_seconds);
  const absl::Duration window = absl::Seconds(config.seconds);
  std::printf("bench-relay: %zu-byte messages, %.2f s per throughput phase, %s mode\n",
              config.message_bytes, config.seconds, config.quick ? "quick" : "full");

  // --- Yardstick: raw TCP throughput on loopback.
  std::string yardstick = "iperf3";
  double yard_bps = 0;
  const std::string iperf3 = testing::FindOnPath("iperf3");
  if (!iperf3.empty()) {
    const int secs = std::max(1, static_cast<int>(std::lround(config.seconds)));
    auto bps = Iperf3BitsPerSecond(iperf3, secs);
    if (bps.ok()) {
      yard_bps = *bps;
    } else {
      std::printf("yardstick: iperf3 failed (%s); using the built-in raw TCP sender\n",
                  bps.status().ToString().c_str());
    }
  } else {
    std::printf("yardstick: iperf3 not found on PATH; using the built-in raw TCP sender\n");
  }
  if (yard_bps == 0) {
    yardstick = "raw-tcp";
    auto bps = RawTcpBitsPerSecond(window, 128 * 1024);
    if (!bps.ok()) return Fail("raw TCP yardstick", bps.status(), nullptr);
    yard_bps = *bps;
  }
  const double yard_bytes_per_s = yard_bps / 8;
  std::printf("yardstick %-8s single TCP stream on loopback   %8.2f Gbit/s\n", yardstick.c_str(),
              yard_bps / 1e9);
  // The ceiling of any relay on this machine: sender -> bare read/write
  // loop -> receiver, no framing or checksums, same message size.
  auto bare_bps = RawTcpBitsPerSecond(window, config.message_bytes, /*relays=*/1);
  if (!bare_bps.ok()) return Fail("bare relay", bare_bps.status(), nullptr);
  const double bare_ratio = *bare_bps / yard_bps;
  std::printf("ceiling   bare read/write relay thread         %8.2f Gbit/s  %.3f x yardstick\n",
              *bare_bps / 1e9, bare_ratio);

  // --- The overlay: 1 + 3 + 9 nodes, static links.
  testing::OverlayOptions overlay_options;
  overlay_options.links = Links();
  auto overlay_or = testing::Overlay::Start(overlay_options);
  if (!overlay_or.ok()) return Fail("controller", overlay_or.status(), nullptr);
  testing::Overlay& overlay = **overlay_or;
  absl::Status spawned = overlay.SpawnNode("h1", 0);
  for (const char* id : {"c1", "c2", "c3"}) {
    if (spawned.ok()) spawned = overlay.SpawnNode(id, 1);  // a chain: fan-out 1
  }
  for (int i = 0; i <= kMaxFanout && spawned.ok(); ++i) {
    spawned = overlay.SpawnNode(absl::StrCat("f", i), 0);  // unlimited fan-out
  }
  if (spawned.ok()) spawned = overlay.AwaitNodes(absl::Seconds(30));
  if (!spawned.ok()) return Fail("nodes", spawned, &overlay);
  const double hz = NominalCpuHz();

  // --- What idle local subscriptions cost a node (before any flow runs).
  const int idle_count = config.quick ? 256 : 4096;
  // TCP client links: each costs this process a socket and an I/O thread
  // (shared memory would add six descriptors per link here, more than the
  // usual limit of open files allows for 4096 of them).
  auto idle = MeasureIdleSubscriptions(overlay, "h1", "idle", idle_count, Transport::kClientLink);
  if (!idle.ok()) return Fail("idle subscriptions", idle.status(), &overlay);
  std::printf(
      "idle      %d local subscriptions on h1 (TCP links) threads %ld -> %ld, RSS %.1f -> %.1f MiB "
      "(%.1f KiB each)\n",
      idle->subscriptions, idle->threads_before, idle->threads_after,
      static_cast<double>(idle->rss_kib_before) / 1024, static_cast<double>(idle->rss_kib_after) / 1024,
      static_cast<double>(idle->rss_kib_after - idle->rss_kib_before) / idle->subscriptions);

  // Kernel TLS needs the kernel's "tls" upper-layer protocol.
  std::string ulps;
  {
    std::ifstream available("/proc/sys/net/ipv4/tcp_available_ulp");
    std::getline(available, ulps);
  }
  const bool kernel_tls = absl::StrContains(ulps, "tls");
  std::printf("ktls      kernel TLS offload %s on this machine (tcp_available_ulp: %s); TLS links "
              "use user-space TLS\n",
              kernel_tls ? "available" : "unavailable", ulps.empty() ? "none" : ulps.c_str());

  // --- The TLS overlay: h1 and the chain again, every connection mutual TLS.
  TempDir certs;
  std::unique_ptr<testing::Overlay> tls_overlay;
  double aes_bytes_per_s = 0;
  if (config.tls) {
    auto aes = AesGcmBytesPerSecond(absl::Seconds(config.quick ? 0.2 : 1));
    if (!aes.ok()) return Fail("AES-GCM yardstick", aes.status(), nullptr);
    aes_bytes_per_s = *aes;
    std::printf(
        "yardstick AES-128-GCM, one core, 16 KiB records   %8.2f Gbit/s  (each TLS link a byte "
        "crosses costs one encryption and one decryption)\n",
        Gbps(aes_bytes_per_s));
    certs.path = std::filesystem::temp_directory_path() /
                 absl::StrCat("canopy-bench-relay-certs-", getpid());
    absl::Status made = testing::MakeCertificates(
        certs.path.string(), std::vector<std::string>(std::begin(kTlsNodes), std::end(kTlsNodes)));
    if (!made.ok()) {
      std::printf("tls       skipped: %s\n", made.ToString().c_str());
    } else {
      testing::OverlayOptions tls_options;
      tls_options.links = kTlsLinks;
      tls_options.tls_dir = certs.path.string();
      auto started = testing::Overlay::Start(tls_options);
      if (!started.ok()) return Fail("TLS controller", started.status(), nullptr);
      tls_overlay = *std::move(started);
      absl::Status up;
      for (const char* id : kTlsNodes) {
        if (up.ok()) up = tls_overlay->SpawnNode(id, std::string(id) == "h1" ? 0 : 1);
      }
      if (up.ok()) up = tls_overlay->AwaitNodes(absl::Seconds(30));
      if (!up.ok()) return Fail("TLS nodes", up, tls_overlay.get());
    }
  }

  // --- Throughput: one relay, a chain of three, fan-out.
  auto hop1 =
      MeasureThroughput(overlay, {"hop1-tput", "h1", {"h1"}}, config.message_bytes, warmup, window);
  if (!hop1.ok()) return Fail("publisher -> h1 -> subscriber", hop1.status(), &overlay);
  const double hop1_ratio = hop1->delivered_bytes_per_s / yard_bytes_per_s;
  const double hop1_gib = static_cast<double>(hop1->delivered_bytes) / kGiB;
  const double cycles_per_gib = hop1->node_cpu_seconds.at("h1") * hz / hop1_gib;
  std::printf(
      "1 relay   pub -> h1 -> sub                      %8.2f Gbit/s  %.3f x yardstick"
      "  (CPU in %.2f s: h1 %.2f s, client SDK %.2f s)\n",
      Gbps(hop1->delivered_bytes_per_s), hop1_ratio, hop1->window_seconds,
      hop1->node_cpu_seconds.at("h1"), hop1->client_cpu_seconds);
  std::optional<ThroughputResult> tls_hop1;
  if (tls_overlay) {
    auto r = MeasureThroughput(*tls_overlay, {"tls-hop1-tput", "h1", {"h1"}}, config.message_bytes,
                               warmup, window);
    if (!r.ok()) return Fail("TLS: publisher -> h1 -> subscriber", r.status(), tls_overlay.get());
    tls_hop1 = *r;
    std::printf(
        "  TLS     pub -> h1 -> sub                      %8.2f Gbit/s  %.3f x plaintext"
        "  (CPU in %.2f s: h1 %.2f s, client SDK %.2f s)\n",
        Gbps(tls_hop1->delivered_bytes_per_s),
        tls_hop1->delivered_bytes_per_s / hop1->delivered_bytes_per_s, tls_hop1->window_seconds,
        tls_hop1->node_cpu_seconds.at("h1"), tls_hop1->client_cpu_seconds);
  }

  // --- Clients in shared memory: both on h1, then publisher on f0 and
  // subscriber on f1 with the node link f0 -> f1 in TCP.
  auto local_shm = MeasureThroughput(
      overlay, {"shm-hop1-tput", "h1", {"h1"}, Transport::kSharedMemory}, config.message_bytes,
      warmup, window);
  if (!local_shm.ok()) return Fail("shared memory: pub -> h1 -> sub", local_shm.status(), &overlay);
  const double local_shm_ratio = local_shm->delivered_bytes_per_s / yard_bytes_per_s;
  std::printf(
      "  shm     pub -> h1 -> sub                      %8.2f Gbit/s  %.3f x yardstick"
      "  (CPU in %.2f s: h1 %.2f s, client SDK %.2f s)\n",
      Gbps(local_shm->delivered_bytes_per_s), local_shm_ratio, local_shm->window_seconds,
      local_shm->node_cpu_seconds.at("h1"), local_shm->client_cpu_seconds);
  auto shm_hop = MeasureThroughput(
      overlay, {"shm-hop2-tput", "f0", {"f1"}, Transport::kSharedMemory}, config.message_bytes,
      warmup, window);
  if (!shm_hop.ok()) return Fail("shared memory: pub -> f0 -> f1 -> sub", shm_hop.status(), &overlay);
  const double shm_hop1_ratio = shm_hop->delivered_bytes_per_s / yard_bytes_per_s;
  std::printf(
      "  shm     pub -> f0 -> f1 -> sub (node link TCP) %7.2f Gbit/s  %.3f x yardstick"
      "  (CPU f0 %.2f s, f1 %.2f s, client SDK %.2f s)\n",
      Gbps(shm_hop->delivered_bytes_per_s), shm_hop1_ratio, shm_hop->node_cpu_seconds.at("f0"),
      shm_hop->node_cpu_seconds.at("f1"), shm_hop->client_cpu_seconds);

  auto chain = MeasureThroughput(overlay, {"chain3-tput", "c1", {"c3"}}, config.message_bytes,
                                 warmup, window);
  if (!chain.ok())
    return Fail("publisher -> c1 -> c2 -> c3 -> subscriber", chain.status(), &overlay);
  const double chain3_ratio = chain->delivered_bytes_per_s / yard_bytes_per_s;
  const double chain_gib = static_cast<double>(chain->delivered_bytes) / kGiB;
  const double relay_cycles_per_gib = chain->node_cpu_seconds.at("c2") * hz / chain_gib;
  // Two more relays than hop1: time per GiB added by each.
  const double per_hop_ms_per_gib =
      (kGiB / chain->delivered_bytes_per_s - kGiB / hop1->delivered_bytes_per_s) / 2 * 1e3;
  std::printf("3 relays  pub -> c1 -> c2 -> c3 -> sub          %8.2f Gbit/s  %.3f x yardstick\n",
              Gbps(chain->delivered_bytes_per_s), chain3_ratio);
  std::optional<ThroughputResult> tls_chain;
  if (tls_overlay) {
    auto r = MeasureThroughput(*tls_overlay, {"tls-chain3-tput", "c1", {"c3"}},
                               config.message_bytes, warmup, window);
    if (!r.ok())
      return Fail("TLS: publisher -> c1 -> c2 -> c3 -> subscriber", r.status(), tls_overlay.get());
    tls_chain = *r;
    std::printf(
        "  TLS     pub -> c1 -> c2 -> c3 -> sub          %8.2f Gbit/s  %.3f x plaintext"
        "  (CPU middle relay c2 %.2f s vs %.2f s plaintext)\n",
        Gbps(tls_chain->delivered_bytes_per_s),
        tls_chain->delivered_bytes_per_s / chain->delivered_bytes_per_s,
        tls_chain->node_cpu_seconds.at("c2"), chain->node_cpu_seconds.at("c2"));
  }
  std::printf("          tree: %s\n", chain->tree.c_str());
  std::printf(
      "          per extra relay hop: %+.1f ms per GiB; middle relay c2 %.3g cycles/GiB"
      " (CPU c1 %.2f s, c2 %.2f s, c3 %.2f s)\n",
      per_hop_ms_per_gib, relay_cycles_per_gib, chain->node_cpu_seconds.at("c1"),
      chain->node_cpu_seconds.at("c2"), chain->node_cpu_seconds.at("c3"));

  std::vector<double> fanout_ratio;
  double fanout8_ingress_cycles_per_gib = 0;
  for (int n : kFanouts) {
    FlowSpec flow{absl::StrCat("fanout", n), "f0", {}};
    for (int i = 1; i <= n; ++i) flow.receivers.push_back(absl::StrCat("f", i));
    auto fan = MeasureThroughput(overlay, flow, config.message_bytes, warmup, window);
    if (!fan.ok()) return Fail(absl::StrCat("fan-out ", n), fan.status(), &overlay);
    fanout_ratio.push_back(fan->delivered_bytes_per_s / yard_bytes_per_s);
    const double in_cpu = fan->node_cpu_seconds.at("f0");
    double children_cpu = 0;
    for (int i = 1; i <= n; ++i) children_cpu += fan->node_cpu_seconds.at(absl::StrCat("f", i));
    const double gib = static_cast<double>(fan->delivered_bytes) / kGiB;
    if (n == kMaxFanout) fanout8_ingress_cycles_per_gib = in_cpu * hz / gib;
    std::printf(
        "fan-out %d f0 -> %d nodes, 1 subscriber each   %8.2f Gbit/s  %.3f x yardstick"
        "  aggregate (%.2f Gbit/s each; CPU f0 %.2f s, children %.2f s)\n",
        n, n, Gbps(fan->delivered_bytes_per_s), fanout_ratio.back(),
        Gbps(fan->delivered_bytes_per_s) / n, in_cpu, children_cpu);
  }

  // --- Latency: direct TCP one-way against one relay and a chain of three.
  const int count = std::max(100, static_cast<int>(config.latency_rate * config.latency_seconds));
  auto direct = TcpPingPongOneWayMicros(config.latency_bytes, count, config.latency_rate);
  if (!direct.ok()) return Fail("TCP ping-pong", direct.status(), nullptr);
  const size_t skip = direct->size() / 10;
  std::vector<double> direct_us(direct->begin() + static_cast<std::ptrdiff_t>(skip), direct->end());
  auto lat1 = MeasureLatency(overlay, {"hop1-lat", "h1", {"h1"}}, config.latency_bytes, count,
                             config.latency_rate);
  if (!lat1.ok()) return Fail("latency through h1", lat1.status(), &overlay);
  auto lat3 = MeasureLatency(overlay, {"chain3-lat", "c1", {"c3"}}, config.latency_bytes, count,
                             config.latency_rate);
  if (!lat3.ok()) return Fail("latency through c1 c2 c3", lat3.status(), &overlay);
  const double d50 = Percentile(direct_us, 0.5), d99 = Percentile(direct_us, 0.99);
  const double h50 = Percentile(lat1->micros, 0.5), h99 = Percentile(lat1->micros, 0.99);
  const double c50 = Percentile(lat3->micros, 0.5), c99 = Percentile(lat3->micros, 0.99);
  std::printf("latency   %zu-byte messages at %.0f/s, %d sent per path, first tenth skipped\n",
              config.latency_bytes, config.latency_rate, count);
  std::printf("  direct TCP one-way (ping-pong RTT/2)    p50 %8.1f us  p99 %8.1f us\n", d50, d99);
  std::printf(
      "  pub -> h1 -> sub                        p50 %8.1f us  p99 %8.1f us"
      "  (%d/%d delivered)\n",
      h50, h99, lat1->received, lat1->sent);
  std::printf(
      "  pub -> c1 -> c2 -> c3 -> sub            p50 %8.1f us  p99 %8.1f us"
      "  (%d/%d delivered)\n",
      c50, c99, lat3->received, lat3->sent);
  std::printf("  added by one relay hop (h1 - direct)    p50 %8.1f us  p99 %8.1f us\n", h50 - d50,
              h99 - d99);
  std::printf("  per extra node-to-node hop ((c - h)/2)  p50 %8.1f us  p99 %8.1f us\n",
              (c50 - h50) / 2, (c99 - h99) / 2);
  std::optional<LatencyResult> tls_lat1, tls_lat3;
  if (tls_overlay) {
    auto r1 = MeasureLatency(*tls_overlay, {"tls-hop1-lat", "h1", {"h1"}}, config.latency_bytes,
                             count, config.latency_rate);
    if (!r1.ok()) return Fail("TLS: latency through h1", r1.status(), tls_overlay.get());
    auto r3 = MeasureLatency(*tls_overlay, {"tls-chain3-lat", "c1", {"c3"}}, config.latency_bytes,
                             count, config.latency_rate);
    if (!r3.ok()) return Fail("TLS: latency through c1 c2 c3", r3.status(), tls_overlay.get());
    tls_lat1 = *std::move(r1);
    tls_lat3 = *std::move(r3);
    std::printf(
        "  TLS pub -> h1 -> sub                    p50 %8.1f us  p99 %8.1f us"
        "  (%d/%d delivered)\n",
        Percentile(tls_lat1->micros, 0.5), Percentile(tls_lat1->micros, 0.99), tls_lat1->received,
        tls_lat1->sent);
    std::printf(
        "  TLS pub -> c1 -> c2 -> c3 -> sub        p50 %8.1f us  p99 %8.1f us"
        "  (%d/%d delivered)\n",
        Percentile(tls_lat3->micros, 0.5), Percentile(tls_lat3->micros, 0.99), tls_lat3->received,
        tls_lat3->sent);
    std::printf("  added by TLS through one relay          p50 %8.1f us  p99 %8.1f us\n",
                Percentile(tls_lat1->micros, 0.5) - h50, Percentile(tls_lat1->micros, 0.99) - h99);
  }
  std::printf(
      "cpu       %.4g cycles per relayed GiB (h1: utime+stime from /proc/PID/stat x"
      " %.0f MHz nominal; no hardware cycle counter used)\n",
      cycles_per_gib, hz / 1e6);
  std::printf("targets   hop1_ratio >= 0.6: %s (hop1 reaches %.2f of the bare relay ceiling)\n",
              hop1_ratio >= 0.6 ? "met" : "NOT met", hop1_ratio / bare_ratio);
  std::printf("targets   local_shm_ratio >= 1.5: %s; shm_hop1_ratio >= 0.8: %s\n",
              local_shm_ratio >= 1.5 ? "met" : "NOT met", shm_hop1_ratio >= 0.8 ? "met" : "NOT met");
  std::string tls_json;
  if (tls_overlay) {
    const double tput_ratio = tls_hop1->delivered_bytes_per_s / hop1->delivered_bytes_per_s;
    const double chain_ratio = tls_chain->delivered_bytes_per_s / chain->delivered_bytes_per_s;
    const double t50 = Percentile(tls_lat1->micros, 0.5), t99 = Percentile(tls_lat1->micros, 0.99);
    const double tc50 = Percentile(tls_lat3->micros, 0.5);
    const double tc99 = Percentile(tls_lat3->micros, 0.99);
    const double tls_gib = static_cast<double>(tls_hop1->delivered_bytes) / kGiB;
    const std::string suite = TlsSuite(*tls_overlay);
    // CPU seconds per GiB through one relay (the node and the client SDK
    // together), and what AES-GCM alone adds: four passes per byte (the
    // publisher encrypts, h1 decrypts and encrypts, the subscriber
    // decrypts). With every process sharing this machine's cores, the best
    // ratio TLS can reach is plaintext CPU / (plaintext CPU + AES-GCM).
    const double plain_cpu =
        (hop1->node_cpu_seconds.at("h1") + hop1->client_cpu_seconds) / hop1_gib;
    const double tls_cpu =
        (tls_hop1->node_cpu_seconds.at("h1") + tls_hop1->client_cpu_seconds) / tls_gib;
    const double aes_cpu = 4 * kGiB / aes_bytes_per_s;
    const double bound_ratio = plain_cpu / (plain_cpu + aes_cpu);
    std::printf(
        "cpu       through h1 (node + client SDK): plaintext %.2f s/GiB, TLS %.2f s/GiB, of which "
        "AES-GCM alone %.2f s/GiB (4 passes)\n",
        plain_cpu, tls_cpu, aes_cpu);
    std::printf(
        "targets   tls_throughput_ratio >= 0.6: %s (TLS costs %.0f%% of one relay's throughput, "
        "%.0f%% of the chain's; %s; the cipher alone bounds the ratio at %.2f on this machine)\n",
        tput_ratio >= 0.6 ? "met" : "NOT met", (1 - tput_ratio) * 100, (1 - chain_ratio) * 100,
        suite.c_str(), bound_ratio);
    tls_json = absl::StrFormat(
        ", \"tls_throughput_ratio\":%s, \"tls_chain3_throughput_ratio\":%s, "
        "\"tls_latency_ratio\":%s, \"tls_chain3_latency_ratio\":%s, \"tls_hop1_gbps\":%s, "
        "\"tls_chain3_gbps\":%s, \"tls_hop1_p50_us\":%s, \"tls_hop1_p99_us\":%s, "
        "\"tls_chain3_p50_us\":%s, \"tls_chain3_p99_us\":%s, \"tls_p50_added_us\":%s, "
        "\"tls_p99_added_us\":%s, \"tls_cycles_per_gib\":%s, \"tls_suite\":\"%s\", "
        "\"tls_aes_gcm_gbps\":%s, \"tls_cpu_bound_ratio\":%s, \"tls_cpu_s_per_gib\":%s, "
        "\"plain_cpu_s_per_gib\":%s",
        Num(tput_ratio), Num(chain_ratio), Num(t50 / h50), Num(tc50 / c50),
        Num(Gbps(tls_hop1->delivered_bytes_per_s)), Num(Gbps(tls_chain->delivered_bytes_per_s)),
        Num(t50), Num(t99), Num(tc50), Num(tc99), Num(t50 - h50), Num(t99 - h99),
        Num(tls_hop1->node_cpu_seconds.at("h1") * hz / tls_gib), suite, Num(Gbps(aes_bytes_per_s)),
        Num(bound_ratio), Num(tls_cpu), Num(plain_cpu));
  }
  std::printf("run       %.1f s\n", absl::ToDoubleSeconds(absl::Now() - began));

  std::string json = absl::StrFormat(
      "{\"iperf3_gbps\":%s, \"hop1_ratio\":%s, \"chain3_ratio\":%s, \"fanout8_ratio\":%s, "
      "\"p50_added_us\":%s, \"p99_added_us\":%s, \"cycles_per_gib\":%s, "
      "\"yardstick\":\"%s\", \"hop1_gbps\":%s, \"chain3_gbps\":%s, "
      "\"per_hop_ms_per_gib\":%s, \"fanout1_ratio\":%s, \"fanout2_ratio\":%s, "
      "\"fanout4_ratio\":%s, \"direct_p50_us\":%s, \"direct_p99_us\":%s, "
      "\"chain3_p50_us\":%s, \"chain3_p99_us\":%s, \"relay_cycles_per_gib\":%s, "
      "\"fanout8_ingress_cycles_per_gib\":%s, \"cycles_source\":\"proc-stat\", "
      "\"bare_relay_ratio\":%s, \"hop1_vs_bare_relay\":%s, \"message_bytes\":%zu, "
      "\"local_shm_ratio\":%s, \"shm_hop1_ratio\":%s, \"idle_subscriptions\":%d, "
      "\"idle_node_threads\":%ld, \"idle_node_rss_mib\":%s, \"ktls\":%s%s}\n",
      Num(yard_bps / 1e9), Num(hop1_ratio), Num(chain3_ratio), Num(fanout_ratio[3]), Num(h50 - d50),
      Num(h99 - d99), Num(cycles_per_gib), yardstick, Num(Gbps(hop1->delivered_bytes_per_s)),
      Num(Gbps(chain->delivered_bytes_per_s)), Num(per_hop_ms_per_gib), Num(fanout_ratio[0]),
      Num(fanout_ratio[1]), Num(fanout_ratio[2]), Num(d50), Num(d99), Num(c50), Num(c99),
      Num(relay_cycles_per_gib), Num(fanout8_ingress_cycles_per_gib), Num(bare_ratio),
      Num(hop1_ratio / bare_ratio), config.message_bytes, Num(local_shm_ratio),
      Num(shm_hop1_ratio), idle->subscriptions, idle->threads_after,
      Num(static_cast<double>(idle->rss_kib_after) / 1024), kernel_tls ? "true" : "false",
      tls_json);
  std::fputs(json.c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace canopy::bench

int main(int argc, char** argv) {
  canopy::bench::Config config;
  CLI::App app{
      "bench-relay: data-plane throughput, fan-out, latency and CPU of canopy-node "
      "on loopback, against raw TCP measured in the same run"};
  app.add_option("--seconds", config.seconds, "measured window of each throughput phase")
      ->capture_default_str()
      ->check(canopy::NumberIn(0.1, 60.0));
  app.add_option("--message-bytes", config.message_bytes, "message size of throughput phases")
      ->capture_default_str()
      ->check(canopy::IntegerIn<size_t>(8, size_t{16} << 20));
  app.add_flag("--quick", config.quick,
               "smoke test: 64 KiB messages, 0.3 s phases, 0.3 s of latency samples");
  app.add_flag("!--no-tls", config.tls,
               "skip the TLS phases (by default one relay and the chain are measured again with "
               "mutual TLS on every connection, certificates from scripts/make-certs)");
  if (auto exit_code = canopy::ParseCommandLine(app, "bench-relay", argc, argv)) return *exit_code;
  canopy::RaiseOpenFileLimit();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as each phase ends
  if (config.quick) {
    if (app.count("--seconds") == 0) config.seconds = 0.3;
    if (app.count("--message-bytes") == 0) config.message_bytes = 64 << 10;
    config.warmup_seconds = 0.15;
    config.latency_seconds = 0.3;
  }
  return canopy::bench::Run(config);
}
