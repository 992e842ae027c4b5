// canopy-controller: the control plane. Keeps the node registry, membership
// and policy, computes trees and pushes forwarding tables to the nodes.

#include <arpa/inet.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "controller/controller_core.h"
#include "controller/controller_metrics.h"
#include "controller/controller_service.h"
#include "controller/policy_file.h"
#include "controller/policy_store.h"
#include "controller/static_links.h"
#include "grpcpp/server_builder.h"
#include "proto/address.h"
#include "proto/grpc_server.h"
#include "proto/ops/health.h"
#include "proto/ops/metrics.h"
#include "proto/ops/metrics_http_server.h"
#include "proto/program.h"
#include "proto/tls_credentials.h"
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
  app.add_option("--multicast-range", multicast_range,
                 "IPv4 multicast CIDR that groups are mapped into on LANs with native "
                 "multicast (by hash of the group name)")
      ->capture_default_str();
  uint16_t multicast_port = 7800;
  app.add_option("--multicast-port", multicast_port, "UDP port of the mapped group addresses")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint16_t>(1, 65535));
  app.add_option("--policies", policies_path,
                 "JSON file of group policies ({\"policies\": [GroupPolicy, ...]}) stored at "
                 "start; other groups keep their stored policy");
  CLI::Option* metrics_flag =
      app.add_option("--metrics-listen", metrics_listen,
                     "Prometheus /metrics HTTP address HOST:PORT (port 0 = any free port)")
          ->capture_default_str();
  canopy::TlsFlags tls_flags;
  canopy::AddTlsFlags(app, tls_flags, /*server=*/true);
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-controller", argc, argv))
    return *exit_code;
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
  auto store = canopy::controller::PolicyStore::Open(store_path);
  if (!store.ok()) return Fail(std::string(store.status().message()));

  const sigset_t signals = canopy::BlockShutdownSignals();

  canopy::ops::MetricsRegistry registry;
  canopy::controller::ControllerMetrics metrics(registry);
  canopy::controller::ControllerOptions options;
  options.on_planned = metrics.PlanObserver();
  options.liveness_timeout = absl::Milliseconds(liveness_ms);
  options.membership_timeout = absl::Milliseconds(membership_timeout_ms);
  options.drain_timeout = absl::Milliseconds(drain_timeout_ms);
  options.planner.hysteresis_percent = hysteresis_percent;
  {
    // A.B.C.D/N inside 224.0.0.0/4, with room for more than two addresses.
    const size_t slash = multicast_range.find('/');
    in_addr base{};
    int prefix = -1;
    if (slash != std::string::npos &&
        inet_pton(AF_INET, multicast_range.substr(0, slash).c_str(), &base) == 1) {
      if (!absl::SimpleAtoi(multicast_range.substr(slash + 1), &prefix)) prefix = -1;
    }
    if (prefix < 4 || prefix > 30 || (ntohl(base.s_addr) >> 28) != 0xE) {
      return Fail("--multicast-range: '" + multicast_range +
                  "' is not an IPv4 multicast CIDR with a prefix of 4..30");
    }
    options.planner.multicast_base = ntohl(base.s_addr);
    options.planner.multicast_prefix = prefix;
    options.planner.multicast_port = multicast_port;
  }
  auto created = canopy::controller::ControllerCore::Create(options, **store);
  if (!created.ok()) return Fail(created.status().ToString());
  canopy::controller::ControllerCore& core = **created;
  if (!links_path.empty()) {
    std::optional<std::string> text = ReadFile(links_path);
    if (!text) return Fail("cannot read links file '" + links_path + "'");
    auto links = canopy::controller::ParseStaticLinks(*text);
    if (!links.ok()) return Fail(links_path + ": " + std::string(links.status().message()));
    if (auto s = core.SetStaticLinks(*links); !s.ok()) return Fail(s.ToString());
    spdlog::info("{} static link(s) from {}", links->size(), links_path);
  }
  if (!policies_path.empty()) {
    std::optional<std::string> text = ReadFile(policies_path);
    if (!text) return Fail("cannot read policies file '" + policies_path + "'");
    auto policies = canopy::controller::ParsePolicyFile(*text);
    if (!policies.ok()) {
      return Fail(policies_path + ": " + std::string(policies.status().message()));
    }
    for (const auto& policy : *policies) {
      if (auto s = core.SetPolicy(policy); !s.ok()) return Fail(s.ToString());
    }
    spdlog::info("{} group policy(ies) from {}", policies->size(), policies_path);
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
  // The store is open and the gRPC server is up: ready (grpc.health.v1).
  canopy::ops::GrpcHealth health(*server);
  health.SetServing("", true);
  health.SetServing(canopy::v1::Controller::service_full_name(), true);

  canopy::ops::MetricsHttpServer metrics_server({}, [&registry] { return registry.Render(); });
  absl::StatusOr<std::string> metrics_field = canopy::ops::StartMetricsEndpoint(
      metrics_server, *metrics_address, metrics_flag->count() > 0);
  if (!metrics_field.ok()) return Fail(std::string(metrics_field.status().message()));

  absl::Notification stopping;
  std::thread liveness([&] {
    absl::Time next_reoptimize = absl::Now() + absl::Milliseconds(reoptimize_ms);
    while (!stopping.WaitForNotificationWithTimeout(kLivenessCheckInterval)) {
      const absl::Time now = absl::Now();
      core.ExpireSilentNodes(now);
      if (reoptimize_ms > 0 && now >= next_reoptimize) {
        core.Reoptimize();
        next_reoptimize = now + absl::Milliseconds(reoptimize_ms);
      }
    }
  });

  std::printf("canopy-controller listening grpc=%s store=%s%s tls=%s\n", bound.ToString().c_str(),
              store_path.c_str(), metrics_field->c_str(), tls_pem ? "on" : "off");
  std::fflush(stdout);

  spdlog::info("signal {}: shutting down", canopy::WaitForShutdownSignal(signals));
  stopping.Notify();
  liveness.join();
  health.Shutdown();
  metrics_server.Stop();
  core.BeginShutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  service.Stop();
  return 0;
}
