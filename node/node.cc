#include "node/node.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/grpc_server.h"
#include "grpcpp/server_builder.h"
#include "node/auto_gateway.h"
#include "node/client_service.h"
#include "node/controller_session.h"
#include "node/edge_report.h"
#include "node/forwarding_state.h"
#include "node/gateway_counters.h"
#include "node/local_clients.h"
#include "node/multicast_channel.h"
#include "node/multicast_discovery.h"
#include "node/node_metrics.h"
#include "node/peer_prober.h"
#include "node/relay.h"
#include "node/traffic_counters.h"
#include "ops/health.h"
#include "ops/metrics.h"
#include "ops/metrics_http_server.h"
#include "spdlog/spdlog.h"
#include "wire/client_link_server.h"

namespace canopy::node {

// The components, declared in the order they are built (and so destroyed in
// reverse). Optional parts are null when their flags leave them off.
struct Node::Parts {
  ForwardingState state;
  TrafficCounters traffic;
  GatewayCounters gateway_counters;
  std::unique_ptr<LocalClients> clients;
  std::unique_ptr<MulticastChannel> multicast;
  std::unique_ptr<Relay> relay;
  wire::Endpoint bound_data;
  std::unique_ptr<PeerProber> prober;
  std::unique_ptr<ControllerSession> session;
  std::unique_ptr<wire::ClientLinkServer> links;
  std::unique_ptr<ClientService> service;
  std::unique_ptr<grpc::Server> server;
  HostPort bound_clients;
  std::unique_ptr<grpc::Server> health_server;
  std::string health_field;
  std::unique_ptr<ops::GrpcHealth> health;
  ops::MetricsRegistry registry;
  std::unique_ptr<NodeMetrics> metrics;
  std::unique_ptr<ops::MetricsHttpServer> metrics_server;
  std::string metrics_field;
  std::vector<std::unique_ptr<Gateway>> gateways;
  std::unique_ptr<AutoGateway> auto_gateway;
  std::unique_ptr<MulticastDiscovery> discovery;

  absl::Mutex stop_mu;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;
};

namespace {

absl::Status Flag(absl::string_view flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(flag, ": ", status.message()));
}

}  // namespace

Node::Node(NodeConfig config) : config_(std::move(config)), parts_(std::make_unique<Parts>()) {}

Node::~Node() { Stop(); }

absl::StatusOr<std::unique_ptr<Node>> Node::Start(NodeConfig config) {
  std::unique_ptr<Node> node(new Node(std::move(config)));
  if (absl::Status s = node->StartParts(); !s.ok()) {
    node->Stop();
    return s;
  }
  return node;
}

absl::Status Node::StartParts() {
  const NodeConfig& c = config_;
  Parts& p = *parts_;
  // The data plane's identity: links to and from other nodes (bound to node
  // certificates) and client links.
  wire::LinkTls data_tls;
  if (c.tls) {
    auto context = wire::TlsContext::Create({c.tls->ca, c.tls->cert, c.tls->key});
    if (!context.ok()) return context.status();
    data_tls = {*std::move(context), std::string(kRoleNode)};
  }

  // Local clients tell the session of every change; the session is built
  // below, before any client can connect.
  p.clients = std::make_unique<LocalClients>([this] { parts_->session->ReportLocalState(); },
                                             c.source_linger);

  // Native multicast on the data interface's LAN, for the flows the
  // controller plans through a multicast domain; none on loopback. Frames
  // arrive only for groups the relay joined, so the relay exists by then.
  MulticastChannelOptions multicast_options;
  multicast_options.interface_address = c.data.host;
  multicast_options.datagram_bytes = c.multicast_datagram_bytes;
  multicast_options.max_payload = c.max_payload;
  multicast_options.on_frame = [this](wire::FramePtr frame, const std::string& sender) {
    parts_->relay->OnMulticastFrame(std::move(frame), sender);
  };
  p.multicast = std::make_unique<MulticastChannel>(multicast_options);
  const absl::Status multicast_ready = p.multicast->Start();
  if (!multicast_ready.ok()) {
    spdlog::info("no native multicast data path: {}", std::string(multicast_ready.message()));
  }

  // What this node's data links say in their HELLO; the controller hands it
  // to its children only, so nobody else can speak as this node.
  const std::string link_token = wire::NewClientLinkToken();
  RelayOptions relay_options;
  relay_options.link_token = link_token;
  relay_options.multicast = multicast_ready.ok() ? p.multicast.get() : nullptr;
  relay_options.node_id = c.id;
  relay_options.max_payload = c.max_payload;
  relay_options.detach_after = c.detach_after;
  relay_options.replay_bytes = c.replay_bytes;
  relay_options.traffic = &p.traffic;
  relay_options.fault_flip_every = c.fault_flip_every;
  relay_options.link_limits.per_address = c.max_links_per_peer;
  relay_options.link_tls = data_tls;
  p.relay = std::make_unique<Relay>(relay_options, p.state, *p.clients);
  auto bound_data = p.relay->Start(wire::Endpoint{c.data.host, c.data.port});
  if (!bound_data.ok()) return bound_data.status();
  p.bound_data = *bound_data;

  // RTT probes of the peers the controller names; their results go to the
  // session, which the prober reaches only once started (below).
  PeerProberOptions prober_options;
  prober_options.node_id = c.id;
  prober_options.probe_interval = std::max(c.probe_interval, absl::Milliseconds(1));
  prober_options.report_interval = 3 * prober_options.probe_interval;
  prober_options.tls = data_tls;
  p.prober = std::make_unique<PeerProber>(
      prober_options, [this](const v1::RttReport& r) { parts_->session->ReportRtts(r); });

  ControllerSessionOptions session_options;
  for (const HostPort& controller : c.controllers) {
    session_options.controller_addresses.push_back(controller.ToString());
  }
  session_options.controller_silence = c.controller_silence;
  if (c.tls) session_options.credentials = TlsChannelCredentials(*c.tls);
  session_options.traffic_report = [this] {
    return BuildTrafficReport(parts_->relay->flows(), parts_->relay->child_links());
  };
  // Health and metrics are built before the session starts.
  session_options.on_attached = [this](bool attached) {
    parts_->health->SetServing("", attached);
    parts_->metrics->SetAttached(attached);
  };
  if (c.probe_interval > absl::ZeroDuration()) {
    session_options.on_probe_peers = [this](const v1::ProbePeers& peers) {
      parts_->prober->SetPeers(peers);
    };
  }
  p.session = std::make_unique<ControllerSession>(session_options, p.state, *p.clients, [this] {
    parts_->relay->OnTableChanged();
    parts_->clients->SetCutOffs(parts_->state.CutOffs());
  });

  // Client links (one port, a thread of their own) and the Node gRPC
  // service: from here on local clients come.
  auto links =
      wire::ClientLinkServer::Open(wire::Endpoint{c.client_links.host, c.client_links.port},
                                   data_tls.context, c.local_ring_bytes);
  if (!links.ok()) return Flag("--client-links", links.status());
  p.links = *std::move(links);
  ClientServiceOptions service_options;
  service_options.node_id = c.id;
  service_options.max_payload = c.max_payload;
  service_options.max_subscriptions = c.max_subscriptions;
  service_options.max_publishers = c.max_publishers;
  service_options.certified_sources = c.tls.has_value();
  p.service =
      std::make_unique<ClientService>(service_options, p.state, *p.clients, *p.relay, *p.links);
  ops::GrpcHealth::Enable();
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.max_payload) + (1 << 20));
  builder.SetMaxSendMessageSize(static_cast<int>(c.max_payload) + (1 << 20));
  builder.RegisterService(p.service.get());
  absl::StatusOr<ListeningServer> listening = StartExclusiveServer(builder, c.listen, c.tls);
  if (!listening.ok()) return Flag("--listen", listening.status());
  p.server = std::move(listening->server);
  p.bound_clients = listening->bound;
  if (c.health_listen) {
    HostPort health_bound;
    auto started = ops::StartHealthOnlyServer(*c.health_listen, &health_bound);
    if (!started.ok()) return Flag("--health-listen", started.status());
    p.health_server = *std::move(started);
    p.health_field = " health=" + health_bound.ToString();
  }
  // grpc.health.v1: the Node service is up (liveness); "" (readiness) is
  // SERVING only while attached to the controller.
  p.health = p.health_server ? std::make_unique<ops::GrpcHealth>(*p.server, *p.health_server)
                             : std::make_unique<ops::GrpcHealth>(*p.server);
  p.health->SetServing(v1::Node::service_full_name(), true);

  ops::AddBuildInfo(p.registry);
  p.metrics = std::make_unique<NodeMetrics>(p.registry, p.state, *p.clients, p.traffic);
  p.metrics->AddRelay(p.registry, *p.relay);
  p.metrics->AddRefusals(p.registry, *p.relay, *p.service);
  p.metrics->AddGateways(p.registry, p.gateway_counters);
  p.metrics_server = std::make_unique<ops::MetricsHttpServer>(
      ops::MetricsHttpServerOptions{}, [this] { return parts_->registry.Render(); });
  absl::StatusOr<std::string> metrics_field =
      ops::StartMetricsEndpoint(*p.metrics_server, c.metrics_listen, c.metrics_listen_given);
  if (!metrics_field.ok()) return metrics_field.status();
  p.metrics_field = *metrics_field;

  v1::NodeHello hello;
  hello.set_node_id(c.id);
  hello.set_data_address(p.bound_data.ToString());
  hello.set_client_address(p.bound_clients.ToString());
  hello.set_max_fanout(c.max_fanout);
  hello.set_upload_bps(c.upload_bps);
  hello.set_link_token(link_token);
  p.session->Start(std::move(hello));
  if (c.probe_interval > absl::ZeroDuration()) p.prober->Start();

  // Gateways for unmodified multicast programs on this LAN.
  const NativeScope scope(c.boundaries);
  for (const GatewaySpec& spec : c.gateways) {
    GatewayOptions gateway_options;
    gateway_options.spec = spec;
    gateway_options.interface_address = p.bound_data.host;
    gateway_options.ttl = c.gateway_ttl;
    gateway_options.threshold = c.gateway_threshold;
    gateway_options.scope = scope;
    gateway_options.counters = &p.gateway_counters;
    gateway_options.max_payload = c.max_payload;
    auto gateway = std::make_unique<Gateway>(gateway_options, *p.relay, *p.clients, p.state);
    if (absl::Status s = gateway->Start(); !s.ok()) {
      return Flag("--gateway " + spec.native_group, s);
    }
    p.gateways.push_back(std::move(gateway));
  }
  if (c.gateway_auto) {
    AutoGatewayOptions auto_options;
    auto_options.interface_address = p.bound_data.host;
    auto_options.served = scope.Serve(*c.gateway_auto);
    auto_options.scope = scope;
    auto_options.threshold = c.gateway_threshold;
    auto_options.timers.query_interval = c.igmp_query_interval;
    auto_options.timers.query_response_interval =
        std::min(absl::Seconds(10), auto_options.timers.query_interval / 2);
    auto_options.timers.last_member_query_interval = c.igmp_last_member_query;
    auto_options.max_groups = c.igmp_max_groups;
    auto_options.max_sources = c.igmp_max_sources;
    auto_options.counters = &p.gateway_counters;
    auto_options.max_payload = c.max_payload;
    for (const auto& g : p.gateways) {
      absl::StatusOr<sockaddr_in> native = ParseMulticastAddress(g->native_group());
      if (native.ok()) auto_options.static_groups.insert(ntohl(native->sin_addr.s_addr));
    }
    p.auto_gateway = std::make_unique<AutoGateway>(auto_options, *p.relay, *p.clients, p.state);
    if (absl::Status s = p.auto_gateway->Start(); !s.ok()) return Flag("--gateway-auto", s);
  }

  MulticastDiscoveryOptions discovery_options;
  discovery_options.node_id = c.id;
  discovery_options.interface_address = p.bound_data.host;
  discovery_options.group = c.discovery.host;
  discovery_options.port = c.discovery.port;
  discovery_options.interval = std::max(c.discovery_interval, absl::Milliseconds(1));
  discovery_options.on_peers = [this](std::vector<std::string> peers) {
    parts_->session->ReportMulticastPeers(peers);
  };
  for (const auto& g : p.gateways) discovery_options.gateway_groups.push_back(g->native_group());
  if (p.auto_gateway) discovery_options.gateway_groups.push_back("auto");
  discovery_options.on_lan_peers = [this](std::vector<LanPeer> peers) {
    for (auto& g : parts_->gateways) g->SetLanPeers(peers);
    if (parts_->auto_gateway) parts_->auto_gateway->SetLanPeers(peers);
  };
  p.discovery = std::make_unique<MulticastDiscovery>(discovery_options);
  if (c.discovery_interval > absl::ZeroDuration()) {
    if (absl::Status s = p.discovery->Start(); !s.ok()) {
      spdlog::info("no native multicast discovery: {}", std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

std::string Node::ListeningLine() const {
  const Parts& p = *parts_;
  return absl::StrCat("canopy-node ", config_.id, " listening clients=", p.bound_clients.ToString(),
                      " data=", p.bound_data.ToString(), " links=", p.links->bound().ToString(),
                      p.metrics_field, p.health_field, " tls=", config_.tls ? "on" : "off");
}

void Node::Stop() {
  Parts& p = *parts_;
  {
    absl::MutexLock lock(&p.stop_mu);
    if (p.stopped) return;
    p.stopped = true;
  }
  // Producers of events first: health, probes, LAN discovery and gateways,
  // then the session (local clients may still report to it: a stopped
  // session only notes it), the servers, and last the data plane.
  if (p.health) p.health->Shutdown();
  if (p.prober) p.prober->Stop();
  if (p.discovery) p.discovery->Stop();
  for (auto& g : p.gateways) g->Stop();
  if (p.auto_gateway) p.auto_gateway->Stop();
  if (p.session) p.session->Stop();
  if (p.metrics_server) p.metrics_server->Stop();
  if (p.server) p.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (p.links) p.links->Stop();  // no client link is served after this
  if (p.health_server) p.health_server->Shutdown(std::chrono::system_clock::now());
  if (p.multicast) p.multicast->Stop();  // no more frames into the relay
  if (p.relay) p.relay->Stop();
}

}  // namespace canopy::node
