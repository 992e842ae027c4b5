// canopy-controller: the control plane. Keeps the node registry, membership
// and policy, computes trees and pushes forwarding tables to the nodes.

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/notification.h"
#include "controller/controller_core.h"
#include "controller/controller_service.h"
#include "controller/policy_store.h"
#include "grpcpp/server_builder.h"
#include "proto/address.h"
#include "proto/program.h"
#include "spdlog/cfg/env.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "canopy-controller: %s\n", message.c_str());
  return 1;
}

constexpr absl::Duration kLivenessCheckInterval = absl::Milliseconds(250);

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopy-controller: control plane of the Canopy overlay multicast service"};
  std::string listen = "127.0.0.1:7600", store_path = "canopy-controller.db";
  uint32_t liveness_ms = 1500;
  app.add_option("--listen", listen, "gRPC address HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--store", store_path, "SQLite file with durable policy")->capture_default_str();
  app.add_option("--liveness-ms", liveness_ms,
                 "declare a node dead after this many ms without a report")
      ->capture_default_str();
  if (auto exit_code = canopy::ParseCommandLine(app, "canopy-controller", argc, argv))
    return *exit_code;
  spdlog::set_default_logger(spdlog::stderr_color_mt("canopy-controller"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::cfg::load_env_levels();  // e.g. SPDLOG_LEVEL=debug

  auto address = canopy::ParseHostPort(listen);
  if (!address.ok()) return Fail(std::string(address.status().message()));
  auto store = canopy::controller::PolicyStore::Open(store_path);
  if (!store.ok()) return Fail(std::string(store.status().message()));

  const sigset_t signals = canopy::BlockShutdownSignals();

  canopy::controller::ControllerOptions options;
  options.liveness_timeout = absl::Milliseconds(liveness_ms);
  canopy::controller::ControllerCore core(options, **store);
  canopy::controller::ControllerService service(core);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address->ToString(), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return Fail("cannot listen on " + address->ToString());
  canopy::HostPort bound{address->host, static_cast<uint16_t>(port)};

  absl::Notification stopping;
  std::thread liveness([&] {
    while (!stopping.WaitForNotificationWithTimeout(kLivenessCheckInterval)) {
      core.ExpireSilentNodes(absl::Now());
    }
  });

  std::printf("canopy-controller listening grpc=%s store=%s\n", bound.ToString().c_str(),
              store_path.c_str());
  std::fflush(stdout);

  spdlog::info("signal {}: shutting down", canopy::WaitForShutdownSignal(signals));
  stopping.Notify();
  liveness.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
