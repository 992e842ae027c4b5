// canopy-node: the relay. Attaches to the controller, serves local clients
// (Node gRPC service) and forwards frames along the controller's trees.
// This file parses and checks the flags; node/node.h builds the node.

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "base/address.h"
#include "base/grpc_server.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "node/gateway.h"
#include "node/native_scope.h"
#include "node/node.h"
#include "proto/validation.h"
#include "spdlog/cfg/env.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "wire/frame.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "canopy-node: %s\n", message.c_str());
  return 1;
}

// The longest interval or timeout a flag takes: a day.
constexpr uint32_t kMaxMillis = 24 * 3600 * 1000;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-node: relay node of the Canopy overlay multicast service"};
  std::string id, controller, listen = "127.0.0.1:0", data = "127.0.0.1:0";
  uint32_t max_fanout = 0;
  uint64_t upload_bps = 0;
  uint32_t max_payload = canopy::wire::kDefaultMaxPayload;
  app.add_option("--id", id, "node id, unique in the overlay ([A-Za-z0-9._-])")->required();
  app.add_option("--controller", controller,
                 "controller gRPC address HOST:PORT, or several replicas' HOST:PORT,... (the node "
                 "follows the leader)")
      ->required();
  uint32_t controller_silence_ms = 2000;
  app.add_option("--controller-silence-ms", controller_silence_ms,
                 "take a controller that sent nothing (it beats every 500 ms) for this long for "
                 "gone and attach again, to the leader")
      ->check(canopy::IntegerIn<uint32_t>(600, 600000))
      ->capture_default_str();
  app.add_option("--listen", listen, "gRPC endpoint for local clients HOST:PORT (port 0 = any)")
      ->capture_default_str();
  app.add_option("--data", data, "wire endpoint for other nodes HOST:PORT (port 0 = any)")
      ->capture_default_str();
  std::string client_links;
  app.add_option("--client-links", client_links,
                 "the one TCP endpoint of client links HOST:PORT (default: --listen's host and "
                 "its port + 2, or any free port when --listen's port is 0)");
  uint32_t local_ring_mib = 8;
  app.add_option("--local-ring-mib", local_ring_mib,
                 "each shared-memory ring of a local client link, MiB: a power of two up to "
                 "1024; 0 = no local links (clients on this host then use TCP)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, 1024))
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            const unsigned long n = std::stoul(text);  // IntegerIn checked it
            return (n & (n - 1)) == 0 ? "" : "'" + text + "' is not 0 or a power of two";
          },
          ""));
  app.add_option("--max-fanout", max_fanout, "most children per tree (0 = no limit)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, 1 << 16));
  app.add_option("--upload-bps", upload_bps, "upload capacity in bit/s (0 = unknown)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(0, uint64_t{1} << 50));
  app.add_option("--max-payload", max_payload,
                 "largest message in bytes, published or delivered (advertised to clients with "
                 "each client link)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, canopy::wire::kMaxPayloadLimit));
  uint64_t replay_mib = 64;
  app.add_option("--replay-mib", replay_mib,
                 "replay rings of all flows together keep this many MiB of recent frames, so "
                 "children that move here or fall behind resume without loss")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(1, uint64_t{1} << 20));
  uint32_t source_linger_ms = 30000;
  app.add_option("--source-linger-ms", source_linger_ms,
                 "keep a source's flow this long after its last local publisher left, so the "
                 "tail of its stream reaches receivers that are behind and can be repaired")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, kMaxMillis));
  uint32_t probe_interval_ms = 1000;
  app.add_option("--probe-interval-ms", probe_interval_ms,
                 "measure the RTT to each peer this often (reported to the controller as link "
                 "costs); 0 = off")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, kMaxMillis));
  std::string discovery = "239.255.77.77:7777";
  app.add_option("--discovery", discovery,
                 "multicast GROUP:PORT where nodes probe for the peers on their LAN (TTL 1)")
      ->capture_default_str();
  uint32_t discovery_interval_ms = 1000;
  app.add_option("--discovery-interval-ms", discovery_interval_ms,
                 "probe the discovery group this often; 0 = off")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, kMaxMillis));
  std::vector<std::string> gateways;
  app.add_option("--gateway", gateways,
                 "GROUP_ADDR:PORT[=GROUP]: carry a native multicast group of this LAN's legacy "
                 "programs across the overlay (group default mcast/GROUP_ADDR:PORT); repeatable")
      ->check(canopy::CheckedBy(
          [](absl::string_view text) {
            return canopy::node::ParseGatewaySpec(std::string(text)).status();
          },
          "GROUP_ADDR:PORT[=GROUP]"));
  int gateway_ttl = 1;
  app.add_option("--gateway-ttl", gateway_ttl,
                 "IP TTL gateways re-emit Canopy publishers' messages with (a legacy sender's "
                 "datagram keeps its own TTL less one)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 255));
  std::string gateway_auto;
  CLI::Option* gateway_auto_flag =
      app.add_option("--gateway-auto", gateway_auto,
                     "learn from this LAN's IGMP reports which groups have listeners and carry "
                     "those groups (as mcast/A.B.C.D, any port) and every legacy sender's "
                     "datagrams to RANGE across the overlay; RANGE A.B.C.D/N or A.B.C.D-E.F.G.H, "
                     "default 224.0.1.0-239.255.255.255, always less the scoped ranges; needs "
                     "CAP_NET_RAW")
          ->expected(0, 1)
          ->check(canopy::CheckedBy(
              [](absl::string_view text) -> absl::Status {
                if (text.empty()) return absl::OkStatus();
                absl::StatusOr<canopy::node::Ipv4Range> range = canopy::node::ParseRange(text);
                if (!range.ok()) return range.status();
                return canopy::node::NativeScope::ValidateBoundary(*range);
              },
              "RANGE"));
  uint32_t igmp_query_interval_ms = 125000, igmp_last_member_query_ms = 1000;
  app.add_option("--igmp-query-interval-ms", igmp_query_interval_ms,
                 "IGMP Query Interval (RFC 3376 §8.2) of --gateway-auto; listeners are "
                 "forgotten 2 intervals + 10 s after their last report")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1000, 3175000));
  app.add_option("--igmp-last-member-query-ms", igmp_last_member_query_ms,
                 "IGMP Last Member Query Interval (RFC 3376 §8.8): a group whose last listener "
                 "left is left after 2 of these")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(100, 25500));
  uint32_t igmp_max_groups = 256, igmp_max_sources = 64;
  app.add_option("--igmp-max-groups", igmp_max_groups,
                 "most groups --gateway-auto learns; reports of more are refused and counted")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, 65536));
  app.add_option("--igmp-max-sources", igmp_max_sources,
                 "most sources in one listener's filter; larger filters are refused and counted")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, 1024));
  int gateway_threshold = 1;
  app.add_option("--gateway-threshold", gateway_threshold,
                 "gateways carry into the overlay only datagrams whose IP TTL exceeds this, as "
                 "the MBone's tunnels did (1: link-local traffic stays on its LAN)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 255));
  std::vector<std::string> boundaries;
  app.add_option("--boundary", boundaries,
                 "CIDR of multicast groups that stop at this node's gateways, as an "
                 "administrative scope boundary (besides 224.0.0.0/24 and 239.255.0.0/16); "
                 "repeatable")
      ->check(canopy::CheckedBy(
          [](absl::string_view text) -> absl::Status {
            absl::StatusOr<canopy::node::Ipv4Range> range = canopy::node::ParseCidr(text);
            if (!range.ok()) return range.status();
            return canopy::node::NativeScope::ValidateBoundary(*range);
          },
          "CIDR"));
  uint32_t multicast_datagram_bytes = 1400;
  app.add_option("--multicast-datagram-bytes", multicast_datagram_bytes,
                 "largest UDP datagram of native LAN multicast (header included); frames are "
                 "cut to fit so IP never fragments them")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(256, 65507));
  int max_subscriptions = 4096, max_publishers = 1024, max_links_per_peer = 64;
  app.add_option("--max-subscriptions", max_subscriptions,
                 "local subscriptions served at once; more are refused (RESOURCE_EXHAUSTED)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 1 << 20));
  app.add_option("--max-publishers", max_publishers,
                 "local publishers served at once; more are refused (RESOURCE_EXHAUSTED)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, 1 << 20));
  app.add_option("--max-links-per-peer", max_links_per_peer,
                 "data links accepted at once from one IP address; more are closed on accept")
      ->capture_default_str()
      ->check(canopy::IntegerIn(2, 1 << 16));
  uint64_t fault_flip_every = 0;
  app.add_option("--fault-flip-every", fault_flip_every,
                 "fault injection for tests and drills: flip one bit in every Nth message "
                 "handed to local subscribers (the replay ring keeps it intact); 0 = off")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint64_t>(0, uint64_t{1} << 40));
  uint32_t detach_after_ms = 5000;
  app.add_option("--detach-after-ms", detach_after_ms,
                 "reliable groups: detach a receiver that stays full and takes under 64 KiB this "
                 "long")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, kMaxMillis));
  std::string health_listen;
  app.add_option("--health-listen", health_listen,
                 "also serve grpc.health.v1, and nothing else, in plaintext on HOST:PORT (for "
                 "the kubelet's probes when --listen wants mutual TLS)");
  std::string metrics_listen = "127.0.0.1:7691";
  CLI::Option* metrics_flag =
      app.add_option("--metrics-listen", metrics_listen,
                     "Prometheus /metrics HTTP address HOST:PORT (port 0 = any free port)")
          ->capture_default_str();
  // One identity for both gRPC ends: the server for local clients and the
  // channel to the controller.
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/true);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-node", argc, argv)) return *exit_code;
  canopy::RaiseOpenFileLimit();
  spdlog::set_default_logger(spdlog::stderr_color_mt("canopy-node"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n " + id + "] %v");
  spdlog::cfg::load_env_levels();  // e.g. SPDLOG_LEVEL=debug

  if (auto s = canopy::ValidateNodeId(id); !s.ok()) return Fail(std::string(s.message()));
  canopy::node::NodeConfig config;
  config.id = id;
  auto listen_address = canopy::ParseHostPort(listen);
  if (!listen_address.ok()) return Fail(std::string(listen_address.status().message()));
  auto data_address = canopy::ParseHostPort(data);
  if (!data_address.ok()) return Fail(std::string(data_address.status().message()));
  // Ports another process holds end the start here, before anything runs.
  if (absl::Status s = canopy::CheckCanListen(*listen_address); !s.ok()) {
    return Fail("--listen: " + std::string(s.message()));
  }
  if (absl::Status s = canopy::CheckCanListen(*data_address); !s.ok()) {
    return Fail("--data: " + std::string(s.message()));
  }
  config.listen = *listen_address;
  config.data = *data_address;
  config.client_links = canopy::HostPort{
      listen_address->host,
      static_cast<uint16_t>(listen_address->port == 0 || listen_address->port > 65533
                                ? 0
                                : listen_address->port + 2)};
  if (!client_links.empty()) {
    auto parsed = canopy::ParseHostPort(client_links);
    if (!parsed.ok()) return Fail("--client-links: " + std::string(parsed.status().message()));
    config.client_links = *parsed;
  }
  if (absl::Status s = canopy::CheckCanListen(config.client_links); !s.ok()) {
    return Fail("--client-links: " + std::string(s.message()));
  }
  auto controllers = canopy::ParseHostPortList(controller);
  if (!controllers.ok()) {
    return Fail("--controller: " + std::string(controllers.status().message()));
  }
  config.controllers = *controllers;
  config.controller_silence = absl::Milliseconds(controller_silence_ms);
  auto discovery_address = canopy::ParseHostPort(discovery);
  if (!discovery_address.ok()) {
    return Fail("--discovery: " + std::string(discovery_address.status().message()));
  }
  config.discovery = *discovery_address;
  config.discovery_interval = absl::Milliseconds(discovery_interval_ms);
  auto metrics_address = canopy::ParseHostPort(metrics_listen);
  if (!metrics_address.ok()) {
    return Fail("--metrics-listen: " + std::string(metrics_address.status().message()));
  }
  config.metrics_listen = *metrics_address;
  config.metrics_listen_given = metrics_flag->count() > 0;
  if (!health_listen.empty()) {
    auto health_address = canopy::ParseHostPort(health_listen);
    if (!health_address.ok()) {
      return Fail("--health-listen: " + std::string(health_address.status().message()));
    }
    config.health_listen = *health_address;
  }
  auto loaded_tls = canopy::LoadServerTls(tls_flags, listen_address->host);
  if (!loaded_tls.ok()) return Fail(std::string(loaded_tls.status().message()));
  config.tls = *std::move(loaded_tls);
  for (const std::string& text : gateways) {
    absl::StatusOr<canopy::node::GatewaySpec> spec = canopy::node::ParseGatewaySpec(text);
    if (!spec.ok()) return Fail("--gateway: " + std::string(spec.status().message()));
    config.gateways.push_back(*spec);
  }
  if (gateway_auto_flag->count() > 0) {
    config.gateway_auto = canopy::node::kDefaultAutoRange;
    if (!gateway_auto.empty()) {
      absl::StatusOr<canopy::node::Ipv4Range> parsed = canopy::node::ParseRange(gateway_auto);
      if (!parsed.ok()) return Fail("--gateway-auto: " + std::string(parsed.status().message()));
      config.gateway_auto = *parsed;
    }
  }
  for (const std::string& text : boundaries) {
    absl::StatusOr<canopy::node::Ipv4Range> range = canopy::node::ParseCidr(text);
    if (!range.ok()) return Fail("--boundary: " + std::string(range.status().message()));
    config.boundaries.push_back(*range);
  }
  if (config.boundaries.size() > canopy::node::NativeScope::kMaxBoundaries) {
    return Fail("--boundary: at most " +
                std::to_string(canopy::node::NativeScope::kMaxBoundaries) + " ranges");
  }
  config.local_ring_bytes = size_t{local_ring_mib} << 20;
  config.max_fanout = max_fanout;
  config.upload_bps = upload_bps;
  config.max_payload = max_payload;
  config.replay_bytes = replay_mib << 20;
  config.source_linger = absl::Milliseconds(source_linger_ms);
  config.probe_interval = absl::Milliseconds(probe_interval_ms);
  config.gateway_ttl = gateway_ttl;
  config.gateway_threshold = gateway_threshold;
  config.igmp_query_interval = absl::Milliseconds(igmp_query_interval_ms);
  config.igmp_last_member_query = absl::Milliseconds(igmp_last_member_query_ms);
  config.igmp_max_groups = igmp_max_groups;
  config.igmp_max_sources = igmp_max_sources;
  config.multicast_datagram_bytes = multicast_datagram_bytes;
  config.max_subscriptions = max_subscriptions;
  config.max_publishers = max_publishers;
  config.max_links_per_peer = max_links_per_peer;
  config.fault_flip_every = fault_flip_every;
  config.detach_after = absl::Milliseconds(detach_after_ms);

  const sigset_t signals = canopy::BlockShutdownSignals();
  // Messages are up to 16 MiB and short-lived: keep freed buffers in the heap
  // instead of returning each to the kernel (glibc's default above 128 KiB),
  // which made every large message fault in and zero fresh pages.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(max_payload) + (1 << 20));
  mallopt(M_TRIM_THRESHOLD, 256 << 20);

  absl::StatusOr<std::unique_ptr<canopy::node::Node>> node =
      canopy::node::Node::Start(std::move(config));
  if (!node.ok()) return Fail(std::string(node.status().message()));
  std::printf("%s\n", (*node)->ListeningLine().c_str());
  std::fflush(stdout);

  spdlog::info("signal {}: shutting down", canopy::WaitForShutdownSignal(signals));
  (*node)->Stop();
  return 0;
}
