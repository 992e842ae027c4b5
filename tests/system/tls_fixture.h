// The TLS system tests' fixture: a private CA and certificates from
// scripts/make-certs, and a controller and nodes started with them
// (tls_control_test.cc: gRPC identities; tls_data_test.cc: the data plane).

#ifndef CANOPY_TESTS_SYSTEM_TLS_FIXTURE_H_
#define CANOPY_TESTS_SYSTEM_TLS_FIXTURE_H_

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/address.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "canopy/v1/node.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"
#include "tests/testing/process.h"
#include "wire/client_link.h"
#include "wire/control_frames.h"
#include "wire/tls_context.h"

namespace canopy::testing {
namespace {  // every test file gets its own fixture

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(20);

class TlsTest : public ::testing::Test {
 protected:
  // One CA and one set of certificates for every test (the script takes a
  // moment): nodes node-a, node-b and node-c, publisher "a", operator alice.
  static void SetUpTestSuite() {
    certs_ = new fs::path(fs::temp_directory_path() / absl::StrCat("canopy-tls-certs-", getpid()));
    Process make({"/bin/bash", CANOPY_SOURCE_DIR "/scripts/make-certs", certs_->string(), "--node",
                  "node-a", "--node", "node-b", "--node", "node-c", "--publisher", "a",
                  "--operator", "alice"});
    ASSERT_EQ(make.Wait(kWait), 0) << make.Stderr();
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*certs_, ignored);
    delete certs_;
  }

  TlsTest() : dir_(fs::temp_directory_path() / absl::StrCat("canopy-tls-", getpid(), "-", n_++)) {
    fs::create_directories(dir_);
  }
  ~TlsTest() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::string Cert(const std::string& file) { return (*certs_ / file).string(); }

  // --tls-* flags for the certificate `name` ("controller", "node-node-a",
  // "publisher-a", "operator-alice").
  static std::vector<std::string> Tls(const std::string& name) {
    return {"--tls-ca",          Cert("ca.crt"), "--tls-cert",
            Cert(name + ".crt"), "--tls-key",    Cert(name + ".key")};
  }

  static std::vector<std::string> Concat(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // Starts a controller with TLS on loopback; sets controller_address_ and
  // controller_metrics_.
  void StartController() {
    controller_ = std::make_unique<Process>(
        Concat({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store",
                (dir_ / "store.db").string(), "--metrics-listen", "127.0.0.1:0"},
               Tls("controller")));
    std::optional<std::string> line = controller_->WaitForStdout("listening", kWait);
    ASSERT_TRUE(line) << controller_->Stderr();
    EXPECT_THAT(*line, HasSubstr("tls=on"));
    controller_address_ = ListeningField(*line, "grpc");
    controller_metrics_ = ListeningField(*line, "metrics");
  }

  // Starts node `id` presenting certificate `cert`; returns it once it
  // listens (attached or not) and sets its client address.
  std::unique_ptr<Process> StartNode(const std::string& id, const std::string& cert) {
    auto node = std::make_unique<Process>(Concat(
        {BinaryPath("canopy-node"), "--id", id, "--controller", controller_address_, "--listen",
         "127.0.0.1:0", "--data", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
        Tls(cert)));
    std::optional<std::string> line = node->WaitForStdout("listening", kWait);
    EXPECT_TRUE(line) << node->Stderr();
    if (line) {
      EXPECT_THAT(*line, HasSubstr("tls=on"));
      clients_[id] = ListeningField(*line, "clients");
      metrics_[id] = ListeningField(*line, "metrics");
    }
    return node;
  }

  // The SDK's TLS files for certificate `name`.
  static ClientTlsFiles ClientTls(const std::string& name) {
    return ClientTlsFiles{Cert("ca.crt"), Cert(name + ".crt"), Cert(name + ".key")};
  }

  // The wire TLS context of certificate `name`.
  static std::shared_ptr<wire::TlsContext> WireTls(const std::string& name) {
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{Cert("ca.crt"), Cert(name + ".crt"), Cert(name + ".key")});
    EXPECT_TRUE(pem.ok()) << pem.status();
    if (!pem.ok()) return nullptr;
    absl::StatusOr<std::shared_ptr<wire::TlsContext>> context =
        wire::TlsContext::Create({pem->ca, pem->cert, pem->key});
    EXPECT_TRUE(context.ok()) << context.status();
    return context.value_or(nullptr);
  }

  // The value of node `id`'s canopy_node_refused_total{reason=...}; -1 if
  // it cannot be read.
  double Refused(const std::string& id, const std::string& reason) {
    absl::StatusOr<HttpResponse> r = HttpRequest(metrics_.at(id), "GET", "/metrics", kWait);
    if (!r.ok()) return -1;
    const std::string key = "canopy_node_refused_total{reason=\"" + reason + "\"} ";
    const size_t at = r->body.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + key.size()));
  }

  // Polls node `id`'s refusal counter until it reaches `n` (bounded).
  bool AwaitRefused(const std::string& id, const std::string& reason, double n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      if (Refused(id, reason) >= n) return true;
      absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
    }
    return false;
  }

  // The data address of node `id` as the controller lists it.
  std::string DataAddress(const std::string& id) {
    grpc::ClientContext context;
    v1::ListNodesResponse response;
    EXPECT_TRUE(Stub("operator-alice")->ListNodes(&context, {}, &response).ok());
    for (const auto& n : response.nodes()) {
      if (n.node_id() == id) return n.data_address();
    }
    return "";
  }

  // A Node stub to node `id` presenting certificate `cert`.
  std::unique_ptr<v1::Node::Stub> NodeStub(const std::string& id, const std::string& cert) {
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{Cert("ca.crt"), Cert(cert + ".crt"), Cert(cert + ".key")});
    EXPECT_TRUE(pem.ok()) << pem.status();
    return v1::Node::NewStub(grpc::CreateChannel(clients_.at(id), TlsChannelCredentials(*pem)));
  }

  // A Controller stub presenting certificate `cert` ("" = plaintext).
  std::unique_ptr<v1::Controller::Stub> Stub(const std::string& cert) {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!cert.empty()) {
      absl::StatusOr<TlsPem> pem =
          LoadTlsFiles(TlsFiles{Cert("ca.crt"), Cert(cert + ".crt"), Cert(cert + ".key")});
      EXPECT_TRUE(pem.ok()) << pem.status();
      if (pem.ok()) credentials = TlsChannelCredentials(*pem);
    }
    return v1::Controller::NewStub(grpc::CreateChannel(controller_address_, credentials));
  }

  // Polls ListNodes (as the operator) until node `id` is listed.
  bool AwaitNodeListed(const std::string& id) {
    auto stub = Stub("operator-alice");
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      grpc::ClientContext context;
      v1::ListNodesResponse response;
      if (stub->ListNodes(&context, {}, &response).ok()) {
        for (const auto& n : response.nodes()) {
          if (n.node_id() == id) return true;
        }
      }
      absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
    }
    return false;
  }

  // Whether ListNodes (as the operator) lists node `id` now.
  bool NodeListed(const std::string& id) {
    grpc::ClientContext context;
    v1::ListNodesResponse response;
    EXPECT_TRUE(Stub("operator-alice")->ListNodes(&context, {}, &response).ok());
    for (const auto& n : response.nodes()) {
      if (n.node_id() == id) return true;
    }
    return false;
  }

  // Runs canopyctl against the controller with `args`; returns its exit
  // code and sets `*err`, `*out`.
  int Canopyctl(std::vector<std::string> args, std::string* out, std::string* err) {
    Process ctl(Concat({BinaryPath("canopyctl"), "--controller", controller_address_}, args));
    std::optional<int> code = ctl.Wait(kWait);
    *err = ctl.Stderr();
    out->clear();
    for (const std::string& line : ctl.StdoutLines()) *out += line + "\n";
    return code.value_or(-1);
  }

  // Starts canopy-pub on node `node` with `args`, sends `lines`, closes
  // stdin and returns the exit code; `*err` gets its stderr.
  int Publish(const std::string& node, std::vector<std::string> args, const std::string& lines,
              std::string* err) {
    Process pub(Concat({BinaryPath("canopy-pub"), "--node", clients_.at(node)}, args));
    pub.WriteStdin(lines);
    pub.CloseStdin();
    std::optional<int> code = pub.Wait(kWait);
    *err = pub.Stderr();
    return code.value_or(-1);
  }

  inline static fs::path* certs_ = nullptr;
  inline static int n_ = 0;
  const fs::path dir_;
  std::unique_ptr<Process> controller_;
  std::string controller_address_;
  std::string controller_metrics_;
  std::map<std::string, std::string> clients_;
  std::map<std::string, std::string> metrics_;
};

}  // namespace
}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_TLS_FIXTURE_H_
