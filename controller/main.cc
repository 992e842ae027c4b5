// canopy-controller: the control plane. Keeps the node registry, membership
// and policy, computes trees and pushes forwarding tables to the nodes.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/notification.h"
#include "base/address.h"
#include "base/build_info.h"
#include "base/grpc_server.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "controller/controller_core.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/etcd_client.h"
#include "controller/etcd_policy_store.h"
#include "controller/leader_election.h"
#include "controller/leadership.h"
#include "controller/multicast_mapping.h"
#include "controller/policy_file.h"
#include "controller/policy_store.h"
#include "controller/static_links.h"
#include "grpcpp/server_builder.h"
#include "ops/health.h"
#include "ops/metrics.h"
#include "ops/metrics_http_server.h"
#include "spdlog/cfg/env.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "canopy-controller: %s\n", message.c_str());
  return 1;
}

constexpr absl::Duration kLivenessCheckInterval = absl::Milliseconds(250);
// The longest interval or timeout a flag takes: a day.
constexpr uint32_t kMaxMillis = 24 * 3600 * 1000;
// Nodes hear from their controller this often (LeaderBeat).
constexpr absl::Duration kBeatInterval = absl::Milliseconds(500);
// grpc.health.v1 service names: "" is ready (this controller leads), this
// one is alive (the process serves; followers too), kStoreHealth is the
// durable store answering.
constexpr char kStoreHealth[] = "canopy.v1.Controller.store";

// Reads a whole (small) file; nullopt if it cannot be read.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-controller: control plane of the Canopy overlay multicast service"};
  std::string listen = "127.0.0.1:7600", store_path = "canopy-controller.db";
  uint32_t liveness_ms = 1500;
  uint32_t membership_timeout_ms = 15000;
  uint32_t drain_timeout_ms = 5000;
  uint32_t reoptimize_ms = 5000;
  double hysteresis_percent = 5.0;
  std::string links_path, policies_path, metrics_listen = "127.0.0.1:7690";
  app.add_option("--listen", listen, "gRPC address HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--store", store_path, "SQLite file with durable policy")->capture_default_str();
  app.add_option("--liveness-ms", liveness_ms,
                 "declare a node dead after this many ms without a report")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(100, kMaxMillis));
  app.add_option("--membership-timeout-ms", membership_timeout_ms,
                 "expire a node's membership not refreshed for this many ms")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(100, kMaxMillis));
  app.add_option("--drain-timeout-ms", drain_timeout_ms,
                 "disconnect a node that has not read its queued instructions for this many ms")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(100, kMaxMillis));
  app.add_option("--links", links_path,
                 "static links file ('NODE_A NODE_B COST_US' per line): replaces the stored "
                 "links; then only those overlay links exist");
  app.add_option("--reoptimize-ms", reoptimize_ms,
                 "interval of the background re-optimisation pass (0 = off)")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(0, kMaxMillis));
  app.add_option("--hysteresis-percent", hysteresis_percent,
                 "switch to a re-optimised tree only if it is this much better")
      ->check(canopy::NumberIn(0.0, 100.0))
      ->capture_default_str();
  std::string multicast_range = "239.0.0.0/8";
  CLI::Option* multicast_range_flag =
      app.add_option("--multicast-range", multicast_range,
                     "IPv4 multicast CIDR that groups are mapped into on LANs with native "
                     "multicast (by hash of the group name)")
          ->capture_default_str();
  uint16_t multicast_port = 7800;
  CLI::Option* multicast_port_flag =
      app.add_option("--multicast-port", multicast_port, "UDP port of the mapped group addresses")
          ->capture_default_str()
          ->check(canopy::IntegerIn<uint16_t>(1, 65535));
  app.add_option("--policies", policies_path,
                 "JSON file of group policies ({\"policies\": [GroupPolicy, ...]}) stored at "
                 "start; other groups keep their stored policy");
  std::string etcd, etcd_prefix = "/canopy/", advertise, health_listen;
  uint32_t etcd_lease_ttl_ms = 5000;
  canopy::TlsFiles etcd_tls;
  app.add_option("--etcd", etcd,
                 "run as one of several replicas on this etcd cluster "
                 "(URL[,URL...], http://HOST:PORT or https://HOST:PORT) instead of --store: one "
                 "leads, by etcd's election; the durable state lives in etcd");
  app.add_option("--etcd-prefix", etcd_prefix, "key prefix of this deployment in etcd")
      ->capture_default_str();
  app.add_option("--etcd-lease-ttl-ms", etcd_lease_ttl_ms,
                 "a leader that stops renewing its etcd lease (dead, paused, cut off) loses the "
                 "leadership this long after its last renewal (whole seconds in etcd)")
      ->check(canopy::IntegerIn<uint32_t>(1000, 600000))
      ->capture_default_str();
  app.add_option("--etcd-tls-ca", etcd_tls.ca, "CA of etcd's certificates (https endpoints)");
  app.add_option("--etcd-tls-cert", etcd_tls.cert, "client certificate for etcd");
  app.add_option("--etcd-tls-key", etcd_tls.key, "key of --etcd-tls-cert");
  app.add_option("--advertise", advertise,
                 "HOST:PORT at which nodes and canopyctl reach this replica (followers name the "
                 "leader's); default: the bound --listen address");
  app.add_option("--health-listen", health_listen,
                 "also serve grpc.health.v1, and nothing else, in plaintext on HOST:PORT (for "
                 "the kubelet's probes when --listen wants mutual TLS)");
  int probe_nearest = canopy::controller::ProbePlanOptions{}.nearest;
  int probe_random = canopy::controller::ProbePlanOptions{}.random;
  app.add_option("--probe-nearest", probe_nearest,
                 "each node probes its K nearest nodes by network coordinates (docs/scale.md)")
      ->capture_default_str()
      ->check(canopy::IntegerIn(1, canopy::controller::kMaxProbePeers));
  app.add_option("--probe-random", probe_random,
                 "and R random ones; overlays of at most K+R+1 nodes are a full mesh")
      ->capture_default_str()
      ->check(canopy::IntegerIn(0, canopy::controller::kMaxProbePeers - 1));
  CLI::Option* metrics_flag =
      app.add_option("--metrics-listen", metrics_listen,
                     "Prometheus /metrics HTTP address HOST:PORT (port 0 = any free port)")
          ->capture_default_str();
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/true);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-controller", argc, argv))
    return *exit_code;
  if (probe_nearest + probe_random > canopy::controller::kMaxProbePeers) {
    std::fprintf(stderr,
                 "canopy-controller: --probe-nearest plus --probe-random must be at most %d\n",
                 canopy::controller::kMaxProbePeers);
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("canopy-controller"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::cfg::load_env_levels();  // e.g. SPDLOG_LEVEL=debug

  auto address = canopy::ParseHostPort(listen);
  if (!address.ok()) return Fail(std::string(address.status().message()));
  // Before the store is touched: a second controller on a port in use
  // changes nothing.
  if (absl::Status s = canopy::CheckCanListen(*address); !s.ok()) {
    return Fail("--listen: " + std::string(s.message()));
  }
  auto loaded_tls = canopy::LoadServerTls(tls_flags, address->host);
  if (!loaded_tls.ok()) return Fail(std::string(loaded_tls.status().message()));
  const std::optional<canopy::TlsPem> tls_pem = *std::move(loaded_tls);
  auto metrics_address = canopy::ParseHostPort(metrics_listen);
  if (!metrics_address.ok()) {
    return Fail("--metrics-listen: " + std::string(metrics_address.status().message()));
  }
  absl::StatusOr<canopy::controller::MulticastMapping> mapping =
      canopy::controller::MakeMulticastMapping(multicast_range, multicast_port);
  if (!mapping.ok()) return Fail("--multicast-range: " + std::string(mapping.status().message()));
  // Given on the command line: stored (and so used by every replica).
  const bool mapping_given = multicast_range_flag->count() > 0 || multicast_port_flag->count() > 0;
  std::optional<std::string> links_text, policies_text;
  if (!links_path.empty()) {
    links_text = ReadFile(links_path);
    if (!links_text) return Fail("cannot read links file '" + links_path + "'");
  }
  if (!policies_path.empty()) {
    policies_text = ReadFile(policies_path);
    if (!policies_text) return Fail("cannot read policies file '" + policies_path + "'");
  }
  std::optional<canopy::HostPort> health_address;
  if (!health_listen.empty()) {
    auto parsed = canopy::ParseHostPort(health_listen);
    if (!parsed.ok()) return Fail("--health-listen: " + std::string(parsed.status().message()));
    health_address = *parsed;
  }

  // The durable store: SQLite (one controller) or etcd (replicas).
  std::unique_ptr<canopy::controller::EtcdClient> etcd_client;
  std::unique_ptr<canopy::controller::EtcdPolicyStore> etcd_store;
  std::unique_ptr<canopy::controller::PolicyStore> sqlite_store;
  canopy::controller::PolicyStore* store = nullptr;
  if (!etcd.empty()) {
    auto endpoints = canopy::controller::ParseEtcdEndpoints(etcd);
    if (!endpoints.ok()) return Fail("--etcd: " + std::string(endpoints.status().message()));
    canopy::controller::EtcdClientOptions etcd_options;
    etcd_options.endpoints = *std::move(endpoints);
    if (!etcd_tls.ca.empty() || !etcd_tls.cert.empty() || !etcd_tls.key.empty()) {
      auto pem = canopy::LoadTlsFiles(etcd_tls);
      if (!pem.ok()) return Fail("--etcd-tls-*: " + std::string(pem.status().message()));
      etcd_options.tls = *std::move(pem);
    }
    auto client = canopy::controller::EtcdClient::Create(std::move(etcd_options));
    if (!client.ok()) return Fail(std::string(client.status().message()));
    etcd_client = *std::move(client);
    etcd_store = std::make_unique<canopy::controller::EtcdPolicyStore>(*etcd_client, etcd_prefix);
    store = etcd_store.get();
  } else {
    auto opened = canopy::controller::PolicyStore::Open(store_path);
    if (!opened.ok()) return Fail(std::string(opened.status().message()));
    sqlite_store = *std::move(opened);
    store = sqlite_store.get();
  }

  const sigset_t signals = canopy::BlockShutdownSignals();

  canopy::ops::MetricsRegistry registry;
  canopy::ops::AddBuildInfo(registry);
  canopy::controller::ControllerMetrics metrics(registry);
  canopy::controller::ControllerOptions options;
  options.on_planned = metrics.PlanObserver();
  options.liveness_timeout = absl::Milliseconds(liveness_ms);
  options.membership_timeout = absl::Milliseconds(membership_timeout_ms);
  options.drain_timeout = absl::Milliseconds(drain_timeout_ms);
  options.planner.hysteresis_percent = hysteresis_percent;
  options.planner.multicast_base = mapping->base;
  options.planner.multicast_prefix = mapping->prefix;
  options.planner.multicast_port = mapping->port;
  options.planner.probes.nearest = probe_nearest;
  options.planner.probes.random = probe_random;

  // Who leads: this controller alone, or the replica etcd elects.
  canopy::controller::SoleLeadership sole(canopy::BuildVersion());
  std::unique_ptr<canopy::controller::LeaderElection> election;
  std::unique_ptr<canopy::controller::ControllerCore> core_holder;
  // Applies the command line's durable settings (--links, --policies, a
  // given multicast mapping) to the store and the planner: at start with
  // SQLite, when first elected with etcd.
  auto apply_given = [&](canopy::controller::ControllerCore& core) -> absl::Status {
    if (mapping_given) {
      if (absl::Status s = store->SetMulticastMapping(*mapping); !s.ok()) return s;
    }
    if (links_text) {
      auto links = canopy::controller::ParseStaticLinks(*links_text);
      if (!links.ok()) {
        return absl::InvalidArgumentError(links_path + ": " +
                                          std::string(links.status().message()));
      }
      if (absl::Status s = core.SetStaticLinks(*links); !s.ok()) return s;
      spdlog::info("{} static link(s) from {}", links->size(), links_path);
    }
    if (policies_text) {
      auto policies = canopy::controller::ParsePolicyFile(*policies_text);
      if (!policies.ok()) {
        return absl::InvalidArgumentError(policies_path + ": " +
                                          std::string(policies.status().message()));
      }
      for (const auto& policy : *policies) {
        if (absl::Status s = core.SetPolicy(policy); !s.ok()) return s;
      }
      spdlog::info("{} group policy(ies) from {}", policies->size(), policies_path);
    }
    return absl::OkStatus();
  };
  // Whether apply_given ran: the election's thread reads and sets it long
  // after the block below ends, so it lives as long as main.
  bool given_applied = false;
  if (etcd_store) {
    canopy::controller::LeaderElectionOptions election_options;
    election_options.prefix = etcd_prefix;
    election_options.lease_ttl = absl::Milliseconds(etcd_lease_ttl_ms);
    election_options.version = canopy::BuildVersion();
    election_options.on_elected = [&](uint64_t term, const std::string& key) -> absl::Status {
      etcd_store->Fence(key, static_cast<int64_t>(term));
      canopy::controller::ControllerCore& core = *core_holder;
      if (absl::Status s = etcd_store->Load([&core] {
            if (absl::Status r = core.LoadDurable(); !r.ok()) {
              spdlog::warn("cannot reload the store: {}", std::string(r.message()));
            }
          });
          !s.ok()) {
        return s;
      }
      if (!given_applied) {
        if (absl::Status s = apply_given(core); !s.ok()) return s;
        given_applied = true;
      }
      return core.LoadDurable();
    };
    election_options.on_deposed = [&] {
      etcd_store->StopWatching();
      core_holder->StepDown();
    };
    election_options.on_reachability = [&](const absl::Status& s) {
      etcd_store->ReportReachability(s);
    };
    election = std::make_unique<canopy::controller::LeaderElection>(*etcd_client,
                                                                    std::move(election_options));
    options.leadership = election.get();
  } else {
    options.leadership = &sole;
  }
  auto created = canopy::controller::ControllerCore::Create(options, *store);
  if (!created.ok()) return Fail(created.status().ToString());
  core_holder = *std::move(created);
  canopy::controller::ControllerCore& core = *core_holder;
  if (!etcd_store) {
    if (absl::Status s = apply_given(core); !s.ok()) return Fail(s.ToString());
    if (absl::Status s = core.LoadDurable(); !s.ok()) return Fail(s.ToString());
  }
  metrics.CollectFrom(core);
  canopy::controller::ControllerService service(
      core, metrics.RefusalObserver(),
      tls_pem ? canopy::controller::CallerChecks::kCertificateRoles
              : canopy::controller::CallerChecks::kNone);

  canopy::ops::GrpcHealth::Enable();
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  absl::StatusOr<canopy::ListeningServer> listening =
      canopy::StartExclusiveServer(builder, *address, tls_pem);
  if (!listening.ok()) return Fail("--listen: " + std::string(listening.status().message()));
  std::unique_ptr<grpc::Server> server = std::move(listening->server);
  const canopy::HostPort bound = listening->bound;
  // Health alone, in plaintext, for probes that cannot do mutual TLS.
  std::unique_ptr<grpc::Server> health_server;
  std::string health_field;
  if (health_address) {
    canopy::HostPort health_bound;
    auto started = canopy::ops::StartHealthOnlyServer(*health_address, &health_bound);
    if (!started.ok()) return Fail("--health-listen: " + std::string(started.status().message()));
    health_server = *std::move(started);
    health_field = " health=" + health_bound.ToString();
  }
  std::string self = bound.ToString();
  if (!advertise.empty()) {
    auto parsed = canopy::ParseHostPort(advertise);
    if (!parsed.ok() || parsed->port == 0) {
      return Fail("--advertise: '" + advertise + "' is not HOST:PORT with a port above 0");
    }
    self = parsed->ToString();
  } else if (etcd_store && (bound.host == "0.0.0.0" || bound.host == "::")) {
    return Fail("--etcd: give --advertise HOST:PORT: the others cannot reach " + self);
  }
  sole.set_self_address(self);
  // Alive now; ready ("") while this controller leads (always without etcd).
  std::unique_ptr<canopy::ops::GrpcHealth> health =
      health_server ? std::make_unique<canopy::ops::GrpcHealth>(*server, *health_server)
                    : std::make_unique<canopy::ops::GrpcHealth>(*server);
  health->SetServing(canopy::v1::Controller::service_full_name(), true);
  auto sync_health = [&] {
    health->SetServing("", core.leadership().leading());
    health->SetServing(kStoreHealth, store->Health().reachable);
  };
  sync_health();
  if (election) election->Start(self);

  canopy::ops::MetricsHttpServer metrics_server({}, [&registry] { return registry.Render(); });
  absl::StatusOr<std::string> metrics_field = canopy::ops::StartMetricsEndpoint(
      metrics_server, *metrics_address, metrics_flag->count() > 0);
  if (!metrics_field.ok()) return Fail(std::string(metrics_field.status().message()));

  absl::Notification stopping;
  std::thread liveness([&] {
    absl::Time next_reoptimize = absl::Now() + absl::Milliseconds(reoptimize_ms);
    absl::Time next_beat = absl::Now();
    while (!stopping.WaitForNotificationWithTimeout(kLivenessCheckInterval)) {
      const absl::Time now = absl::Now();
      sync_health();
      if (!core.leadership().leading()) continue;
      core.ExpireSilentNodes(now);
      if (now >= next_beat) {
        core.Beat(now);
        next_beat = now + kBeatInterval;
      }
      if (reoptimize_ms > 0 && now >= next_reoptimize) {
        core.Reoptimize();
        next_reoptimize = now + absl::Milliseconds(reoptimize_ms);
      }
    }
  });

  const std::string store_field =
      etcd_store ? "etcd:" + etcd_prefix + " advertise=" + self : store_path;
  std::printf("canopy-controller listening grpc=%s store=%s%s%s tls=%s\n", bound.ToString().c_str(),
              store_field.c_str(), metrics_field->c_str(), health_field.c_str(),
              tls_pem ? "on" : "off");
  std::fflush(stdout);

  spdlog::info("signal {}: shutting down", canopy::WaitForShutdownSignal(signals));
  stopping.Notify();
  liveness.join();
  health->Shutdown();
  metrics_server.Stop();
  core.BeginShutdown();
  // Resign: another replica leads at once instead of after the lease.
  if (election) election->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (health_server) health_server->Shutdown(std::chrono::system_clock::now());
  service.Stop();
  return 0;
}
