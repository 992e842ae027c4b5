// canopy-node: the relay. Attaches to the controller, serves local clients
// (Node gRPC service) and forwards frames along the controller's trees.

#include <malloc.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "CLI/CLI.hpp"
#include "base/address.h"
#include "base/grpc_server.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "grpcpp/server_builder.h"
#include "node/auto_gateway.h"
#include "node/client_service.h"
#include "node/controller_session.h"
#include "node/edge_report.h"
#include "node/forwarding_state.h"
#include "node/gateway.h"
#include "node/gateway_counters.h"
#include "node/local_clients.h"
#include "node/multicast_channel.h"
#include "node/multicast_discovery.h"
#include "node/native_scope.h"
#include "node/node_metrics.h"
#include "node/peer_prober.h"
#include "node/relay.h"
#include "node/traffic_counters.h"
#include "ops/health.h"
#include "ops/metrics.h"
#include "ops/metrics_http_server.h"
#include "proto/validation.h"
#include "spdlog/cfg/env.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "wire/client_link_server.h"

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
  canopy::HostPort links_address{
      listen_address->host,
      static_cast<uint16_t>(listen_address->port == 0 || listen_address->port > 65533
                                ? 0
                                : listen_address->port + 2)};
  if (!client_links.empty()) {
    auto parsed = canopy::ParseHostPort(client_links);
    if (!parsed.ok()) return Fail("--client-links: " + std::string(parsed.status().message()));
    links_address = *parsed;
  }
  if (absl::Status s = canopy::CheckCanListen(links_address); !s.ok()) {
    return Fail("--client-links: " + std::string(s.message()));
  }
  auto controllers = canopy::ParseHostPortList(controller);
  if (!controllers.ok()) {
    return Fail("--controller: " + std::string(controllers.status().message()));
  }
  auto discovery_address = canopy::ParseHostPort(discovery);
  if (!discovery_address.ok()) {
    return Fail("--discovery: " + std::string(discovery_address.status().message()));
  }
  auto metrics_address = canopy::ParseHostPort(metrics_listen);
  if (!metrics_address.ok()) {
    return Fail("--metrics-listen: " + std::string(metrics_address.status().message()));
  }
  auto loaded_tls = canopy::LoadServerTls(tls_flags, listen_address->host);
  if (!loaded_tls.ok()) return Fail(std::string(loaded_tls.status().message()));
  const std::optional<canopy::TlsPem> tls_pem = *std::move(loaded_tls);
  // The same identity encrypts the data plane: links to and from other
  // nodes (bound to node certificates) and client links.
  canopy::wire::LinkTls data_tls;
  if (tls_pem) {
    auto context = canopy::wire::TlsContext::Create({tls_pem->ca, tls_pem->cert, tls_pem->key});
    if (!context.ok()) return Fail(std::string(context.status().message()));
    data_tls = {*std::move(context), std::string(canopy::kRoleNode)};
  }

  const sigset_t signals = canopy::BlockShutdownSignals();
  // Messages are up to 16 MiB and short-lived: keep freed buffers in the heap
  // instead of returning each to the kernel (glibc's default above 128 KiB),
  // which made every large message fault in and zero fresh pages.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(max_payload) + (1 << 20));
  mallopt(M_TRIM_THRESHOLD, 256 << 20);

  canopy::node::ForwardingState state;
  // The data plane's counters (bytes, frames, drops, queues) for /metrics.
  canopy::node::TrafficCounters traffic;
  // What the gateways carried and kept for scope, for /metrics.
  canopy::node::GatewayCounters gateway_counters;
  // Set once the session exists; clients may connect before that.
  std::atomic<canopy::node::ControllerSession*> live_session{nullptr};
  canopy::node::LocalClients clients(
      [&live_session] {
        if (auto* s = live_session.load()) s->ReportLocalState();
      },
      absl::Milliseconds(source_linger_ms));

  // Native multicast on the data interface's LAN, for the flows the
  // controller plans through a multicast domain; none on loopback.
  std::atomic<canopy::node::Relay*> live_relay{nullptr};
  canopy::node::MulticastChannelOptions multicast_options;
  multicast_options.interface_address = data_address->host;
  multicast_options.datagram_bytes = multicast_datagram_bytes;
  multicast_options.max_payload = max_payload;
  multicast_options.on_frame = [&live_relay](canopy::wire::FramePtr frame,
                                             const std::string& sender) {
    if (auto* r = live_relay.load()) r->OnMulticastFrame(std::move(frame), sender);
  };
  canopy::node::MulticastChannel multicast(multicast_options);
  const absl::Status multicast_ready = multicast.Start();
  if (!multicast_ready.ok()) {
    spdlog::info("no native multicast data path: {}", std::string(multicast_ready.message()));
  }

  // What this node's data links say in their HELLO; the controller hands it
  // to its children only, so nobody else can speak as this node.
  const std::string link_token = canopy::wire::NewClientLinkToken();
  canopy::node::RelayOptions relay_options;
  relay_options.link_token = link_token;
  relay_options.multicast = multicast_ready.ok() ? &multicast : nullptr;
  relay_options.node_id = id;
  relay_options.max_payload = max_payload;
  relay_options.detach_after = absl::Milliseconds(detach_after_ms);
  relay_options.replay_bytes = replay_mib << 20;
  relay_options.traffic = &traffic;
  relay_options.fault_flip_every = fault_flip_every;
  relay_options.link_limits.per_address = max_links_per_peer;
  relay_options.link_tls = data_tls;
  canopy::node::Relay relay(relay_options, state, clients);
  live_relay = &relay;
  auto bound_data = relay.Start(canopy::wire::Endpoint{data_address->host, data_address->port});
  if (!bound_data.ok()) return Fail(std::string(bound_data.status().message()));

  canopy::node::ClientServiceOptions service_options;
  service_options.node_id = id;
  service_options.max_payload = max_payload;
  service_options.max_subscriptions = max_subscriptions;
  service_options.max_publishers = max_publishers;
  service_options.certified_sources = tls_pem.has_value();
  // Client links: one port, served on a thread of their own.
  auto links = canopy::wire::ClientLinkServer::Open(
      canopy::wire::Endpoint{links_address.host, links_address.port}, data_tls.context,
      size_t{local_ring_mib} << 20);
  if (!links.ok()) return Fail("--client-links: " + std::string(links.status().message()));
  canopy::node::ClientService service(service_options, state, clients, relay, **links);
  canopy::ops::GrpcHealth::Enable();
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_payload) + (1 << 20));
  builder.SetMaxSendMessageSize(static_cast<int>(max_payload) + (1 << 20));
  builder.RegisterService(&service);
  absl::StatusOr<canopy::ListeningServer> listening =
      canopy::StartExclusiveServer(builder, *listen_address, tls_pem);
  if (!listening.ok()) return Fail("--listen: " + std::string(listening.status().message()));
  std::unique_ptr<grpc::Server> server = std::move(listening->server);
  const canopy::HostPort bound_clients = listening->bound;
  std::unique_ptr<grpc::Server> health_server;
  std::string health_field;
  if (!health_listen.empty()) {
    auto health_address = canopy::ParseHostPort(health_listen);
    if (!health_address.ok()) {
      return Fail("--health-listen: " + std::string(health_address.status().message()));
    }
    canopy::HostPort health_bound;
    auto started = canopy::ops::StartHealthOnlyServer(*health_address, &health_bound);
    if (!started.ok()) return Fail("--health-listen: " + std::string(started.status().message()));
    health_server = *std::move(started);
    health_field = " health=" + health_bound.ToString();
  }
  // grpc.health.v1: the Node service is up (liveness); "" (readiness) is
  // SERVING only while attached to the controller.
  std::unique_ptr<canopy::ops::GrpcHealth> health_holder =
      health_server ? std::make_unique<canopy::ops::GrpcHealth>(*server, *health_server)
                    : std::make_unique<canopy::ops::GrpcHealth>(*server);
  canopy::ops::GrpcHealth& health = *health_holder;
  health.SetServing(canopy::v1::Node::service_full_name(), true);

  canopy::ops::MetricsRegistry registry;
  canopy::ops::AddBuildInfo(registry);
  canopy::node::NodeMetrics metrics(registry, state, clients, traffic);
  metrics.AddRelay(registry, relay);
  metrics.AddRefusals(registry, relay, service);
  metrics.AddGateways(registry, gateway_counters);
  canopy::ops::MetricsHttpServer metrics_server({}, [&registry] { return registry.Render(); });
  absl::StatusOr<std::string> metrics_field = canopy::ops::StartMetricsEndpoint(
      metrics_server, *metrics_address, metrics_flag->count() > 0);
  if (!metrics_field.ok()) return Fail(std::string(metrics_field.status().message()));

  canopy::node::ControllerSessionOptions session_options;
  for (const canopy::HostPort& c : *controllers) {
    session_options.controller_addresses.push_back(c.ToString());
  }
  session_options.controller_silence = absl::Milliseconds(controller_silence_ms);
  if (tls_pem) session_options.credentials = canopy::TlsChannelCredentials(*tls_pem);
  session_options.hello.set_node_id(id);
  session_options.hello.set_data_address(bound_data->ToString());
  session_options.hello.set_client_address(bound_clients.ToString());
  session_options.hello.set_max_fanout(max_fanout);
  session_options.hello.set_upload_bps(upload_bps);
  session_options.hello.set_link_token(link_token);
  session_options.traffic_report = [&relay] {
    return canopy::node::BuildTrafficReport(relay.flows(), relay.child_links());
  };
  session_options.on_attached = [&health, &metrics](bool attached) {
    health.SetServing("", attached);
    metrics.SetAttached(attached);
  };
  canopy::node::PeerProberOptions prober_options;
  prober_options.node_id = id;
  prober_options.probe_interval = absl::Milliseconds(std::max<uint32_t>(probe_interval_ms, 1));
  prober_options.report_interval = 3 * prober_options.probe_interval;
  prober_options.tls = data_tls;
  canopy::node::PeerProber prober(prober_options, [&live_session](const canopy::v1::RttReport& r) {
    if (canopy::node::ControllerSession* s = live_session.load()) s->ReportRtts(r);
  });
  if (probe_interval_ms > 0) {
    session_options.on_probe_peers = [&prober](const canopy::v1::ProbePeers& peers) {
      prober.SetPeers(peers);
    };
  }
  auto session = std::make_unique<canopy::node::ControllerSession>(
      session_options, state, clients, [&relay, &state, &clients] {
        relay.OnTableChanged();
        clients.SetCutOffs(state.CutOffs());
      });
  live_session.store(session.get());
  session->Start();
  if (probe_interval_ms > 0) prober.Start();
  // Gateways for unmodified multicast programs on this LAN.
  std::vector<canopy::node::Ipv4Range> boundary_ranges;
  for (const std::string& text : boundaries) {
    absl::StatusOr<canopy::node::Ipv4Range> range = canopy::node::ParseCidr(text);
    if (!range.ok()) return Fail("--boundary: " + std::string(range.status().message()));
    boundary_ranges.push_back(*range);
  }
  if (boundary_ranges.size() > canopy::node::NativeScope::kMaxBoundaries) {
    return Fail("--boundary: at most " +
                std::to_string(canopy::node::NativeScope::kMaxBoundaries) + " ranges");
  }
  const canopy::node::NativeScope scope(boundary_ranges);
  std::vector<std::unique_ptr<canopy::node::Gateway>> lan_gateways;
  for (const std::string& text : gateways) {
    absl::StatusOr<canopy::node::GatewaySpec> spec = canopy::node::ParseGatewaySpec(text);
    if (!spec.ok()) return Fail("--gateway: " + std::string(spec.status().message()));
    canopy::node::GatewayOptions gateway_options;
    gateway_options.spec = *spec;
    gateway_options.interface_address = bound_data->host;
    gateway_options.ttl = gateway_ttl;
    gateway_options.threshold = gateway_threshold;
    gateway_options.scope = scope;
    gateway_options.counters = &gateway_counters;
    gateway_options.max_payload = max_payload;
    auto gateway = std::make_unique<canopy::node::Gateway>(gateway_options, relay, clients, state);
    if (absl::Status s = gateway->Start(); !s.ok()) {
      return Fail("--gateway " + text + ": " + std::string(s.message()));
    }
    lan_gateways.push_back(std::move(gateway));
  }
  std::unique_ptr<canopy::node::AutoGateway> auto_gateway;
  if (gateway_auto_flag->count() > 0) {
    canopy::node::Ipv4Range range = canopy::node::kDefaultAutoRange;
    if (!gateway_auto.empty()) {
      absl::StatusOr<canopy::node::Ipv4Range> parsed = canopy::node::ParseRange(gateway_auto);
      if (!parsed.ok()) return Fail("--gateway-auto: " + std::string(parsed.status().message()));
      range = *parsed;
    }
    canopy::node::AutoGatewayOptions auto_options;
    auto_options.interface_address = bound_data->host;
    auto_options.served = scope.Serve(range);
    auto_options.scope = scope;
    auto_options.threshold = gateway_threshold;
    auto_options.timers.query_interval = absl::Milliseconds(igmp_query_interval_ms);
    auto_options.timers.query_response_interval =
        std::min(absl::Seconds(10), auto_options.timers.query_interval / 2);
    auto_options.timers.last_member_query_interval = absl::Milliseconds(igmp_last_member_query_ms);
    auto_options.max_groups = igmp_max_groups;
    auto_options.max_sources = igmp_max_sources;
    auto_options.counters = &gateway_counters;
    auto_options.max_payload = max_payload;
    for (const auto& g : lan_gateways) {
      absl::StatusOr<sockaddr_in> native = canopy::node::ParseMulticastAddress(g->native_group());
      if (native.ok()) auto_options.static_groups.insert(ntohl(native->sin_addr.s_addr));
    }
    auto_gateway =
        std::make_unique<canopy::node::AutoGateway>(auto_options, relay, clients, state);
    if (absl::Status s = auto_gateway->Start(); !s.ok()) {
      return Fail("--gateway-auto: " + std::string(s.message()));
    }
  }

  canopy::node::MulticastDiscoveryOptions discovery_options;
  discovery_options.node_id = id;
  discovery_options.interface_address = bound_data->host;
  discovery_options.group = discovery_address->host;
  discovery_options.port = discovery_address->port;
  discovery_options.interval = absl::Milliseconds(std::max<uint32_t>(discovery_interval_ms, 1));
  discovery_options.on_peers = [&live_session](std::vector<std::string> peers) {
    if (canopy::node::ControllerSession* s = live_session.load()) s->ReportMulticastPeers(peers);
  };
  for (const auto& g : lan_gateways) discovery_options.gateway_groups.push_back(g->native_group());
  if (auto_gateway) discovery_options.gateway_groups.push_back("auto");
  discovery_options.on_lan_peers = [&lan_gateways,
                                    &auto_gateway](std::vector<canopy::node::LanPeer> peers) {
    for (auto& g : lan_gateways) g->SetLanPeers(peers);
    if (auto_gateway) auto_gateway->SetLanPeers(peers);
  };
  canopy::node::MulticastDiscovery lan_discovery(discovery_options);
  if (discovery_interval_ms > 0) {
    if (absl::Status s = lan_discovery.Start(); !s.ok()) {
      spdlog::info("no native multicast discovery: {}", std::string(s.message()));
    }
  }

  std::printf("canopy-node %s listening clients=%s data=%s links=%s%s%s tls=%s\n", id.c_str(),
              bound_clients.ToString().c_str(), bound_data->ToString().c_str(),
              (*links)->bound().ToString().c_str(), metrics_field->c_str(), health_field.c_str(),
              tls_pem ? "on" : "off");
  std::fflush(stdout);

  spdlog::info("signal {}: shutting down", canopy::WaitForShutdownSignal(signals));
  live_session.store(nullptr);
  health.Shutdown();
  prober.Stop();
  lan_discovery.Stop();
  for (auto& g : lan_gateways) g->Stop();
  if (auto_gateway) auto_gateway->Stop();
  session->Stop();
  metrics_server.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  (*links)->Stop();  // no client link is served after this
  if (health_server) health_server->Shutdown(std::chrono::system_clock::now());
  multicast.Stop();  // no more frames into the relay
  live_relay.store(nullptr);
  relay.Stop();
  return 0;
}
