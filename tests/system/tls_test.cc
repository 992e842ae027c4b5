// Mutual TLS between the real programs (README "TLS"): certificates from
// scripts/make-certs, node ids bound to node certificates, source ids bound
// to publisher certificates, policy changes bound to operator certificates,
// plaintext clients shut out, and unusable TLS files refused at startup;
// on the data plane, node-to-node links and client links encrypted, each
// data link bound to its parent's node certificate and each client link to
// its gRPC caller's certificate.

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
#include "tests/system/http_client.h"
#include "tests/system/process.h"
#include "wire/client_link.h"
#include "wire/control_frames.h"
#include "wire/tls_context.h"

namespace canopy::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(20);

// Reads the next frame of `link`; a link that stays silent for kWait is
// shut, so the read fails then instead of hanging the test.
absl::StatusOr<wire::FrameHeader> ReadWithin(wire::ClientLink& link, std::string& payload) {
  absl::Notification read;
  std::thread watchdog([&] {
    if (!read.WaitForNotificationWithTimeout(kWait)) link.Shutdown();
  });
  absl::StatusOr<wire::FrameHeader> header = link.ReadInto(payload, 1 << 20);
  read.Notify();
  watchdog.join();
  return header;
}

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

  static fs::path* certs_;
  static int n_;
  const fs::path dir_;
  std::unique_ptr<Process> controller_;
  std::string controller_address_;
  std::string controller_metrics_;
  std::map<std::string, std::string> clients_;
  std::map<std::string, std::string> metrics_;
};

fs::path* TlsTest::certs_ = nullptr;
int TlsTest::n_ = 0;

TEST_F(TlsTest, NodeAttachesOnlyAsTheNodeItsCertificateNames) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  // node-b presenting node-a's certificate.
  auto impostor = StartNode("node-b", "node-node-a");
  EXPECT_TRUE(impostor->WaitForStderr(
      "a node with the certificate of node 'node-a' may not attach as node 'node-b'", kWait))
      << impostor->Stderr() << controller_->Stderr();
  // An operator's certificate is no node's.
  auto operator_node = StartNode("node-c", "operator-alice");
  EXPECT_TRUE(operator_node->WaitForStderr(
      "Attach needs a certificate with OU=node; this one has OU=operator, CN=alice", kWait))
      << operator_node->Stderr();

  // The real node-a attaches; the impostors never do.
  auto node_a = StartNode("node-a", "node-node-a");
  EXPECT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr() << controller_->Stderr();
  EXPECT_FALSE(NodeListed("node-b"));
  EXPECT_FALSE(NodeListed("node-c"));
  EXPECT_THAT(controller_->Stderr(), HasSubstr("refused node node-b"));

  // Counted as refused reports of kind "identity".
  absl::StatusOr<HttpResponse> metrics = HttpRequest(controller_metrics_, "GET", "/metrics", kWait);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(metrics->body,
              HasSubstr("canopy_controller_reports_refused_total{report=\"identity\"}"));
  EXPECT_THAT(
      metrics->body,
      ::testing::Not(HasSubstr("canopy_controller_reports_refused_total{report=\"identity\"} 0")));
}

TEST_F(TlsTest, PlaintextAndStrangersCannotTalkToTlsServers) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();

  // A plaintext gRPC client gets nothing from the controller.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListNodesResponse response;
    grpc::Status s = Stub("")->ListNodes(&context, {}, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(response.nodes_size(), 0);
  }
  // A client with a certificate of another CA neither.
  {
    const fs::path other = dir_ / "other-ca";
    Process make({"/bin/bash", CANOPY_SOURCE_DIR "/scripts/make-certs", other.string(),
                  "--operator", "mallory"});
    ASSERT_EQ(make.Wait(kWait), 0) << make.Stderr();
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{Cert("ca.crt"), (other / "operator-mallory.crt").string(),
                              (other / "operator-mallory.key").string()});
    ASSERT_TRUE(pem.ok()) << pem.status();
    auto stub = v1::Controller::NewStub(
        grpc::CreateChannel(controller_address_, TlsChannelCredentials(*pem)));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListNodesResponse response;
    grpc::Status s = stub->ListNodes(&context, {}, &response);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(response.nodes_size(), 0);
  }
  // canopyctl without TLS: exit 1 with a hint.
  std::string out, err;
  EXPECT_EQ(Canopyctl({"nodes"}, &out, &err), 1);
  EXPECT_THAT(err, AllOf(HasSubstr("controller unreachable"), HasSubstr("--tls-ca")));
  EXPECT_EQ(out, "");
  // A plaintext subscriber cannot join at a TLS node.
  Process sub({BinaryPath("canopy-sub"), "--node", clients_.at("node-a"), "--group", "g",
               "--join-timeout", "5", "--transport", "grpc"});
  std::optional<int> code = sub.Wait(kWait);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1) << sub.Stderr();
  EXPECT_THAT(sub.Stderr(), HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(sub.Stderr(), ::testing::Not(HasSubstr("joined")));
}

TEST_F(TlsTest, PublisherPublishesOnlyAsTheSourceItsCertificateNames) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();
  // Any certificate of the CA may subscribe.
  Process sub(Concat({BinaryPath("canopy-sub"), "--node", clients_.at("node-a"), "--group", "g",
                      "--with-source", "--count", "3"},
                     Tls("operator-alice")));
  ASSERT_TRUE(sub.WaitForStderr("joined", kWait)) << sub.Stderr() << node_a->Stderr();

  // Publisher "a" claiming to be "b": refused on both transports.
  const std::string refusal =
      "publishing as source 'b' needs a certificate with OU=publisher, CN=b; this one has "
      "OU=publisher, CN=a";
  for (const char* transport : {"link", "grpc"}) {
    std::string err;
    EXPECT_EQ(Publish("node-a",
                      Concat({"--group", "g", "--source", "b", "--transport", transport},
                             Tls("publisher-a")),
                      "forged\n", &err),
              1)
        << transport << ": " << err;
    EXPECT_THAT(err, AllOf(HasSubstr("PERMISSION_DENIED"), HasSubstr(refusal))) << transport;
  }
  // An operator is no publisher.
  std::string err;
  EXPECT_EQ(Publish("node-a", Concat({"--group", "g", "--source", "a"}, Tls("operator-alice")),
                    "forged\n", &err),
            1);
  EXPECT_THAT(err, HasSubstr("this one has OU=operator, CN=alice"));

  // As itself it publishes, and the subscriber receives exactly that.
  EXPECT_EQ(Publish("node-a", Concat({"--group", "g", "--source", "a"}, Tls("publisher-a")),
                    "one\ntwo\nthree\n", &err),
            0)
      << err << node_a->Stderr();
  ASSERT_EQ(sub.Wait(kWait), 0) << sub.Stderr();
  std::vector<std::string> got = sub.StdoutLines();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_THAT(got[0], AllOf(StartsWith("a "), HasSubstr("one")));
  EXPECT_THAT(got[1], AllOf(StartsWith("a "), HasSubstr("two")));
  EXPECT_THAT(got[2], AllOf(StartsWith("a "), HasSubstr("three")));
  EXPECT_THAT(node_a->Stderr(), HasSubstr("refusing publisher of source b"));
}

TEST_F(TlsTest, PolicyChangesNeedAnOperatorCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  std::string out, err;
  // The operator sets a policy; the controller logs who did.
  EXPECT_EQ(
      Canopyctl(Concat({"policy", "set", "g", "--allow", "a"}, Tls("operator-alice")), &out, &err),
      0)
      << err;
  EXPECT_THAT(out, HasSubstr("a"));
  EXPECT_TRUE(controller_->WaitForStderr("operator alice set the policy of group g", kWait))
      << controller_->Stderr();

  // A node may read but not change it.
  EXPECT_EQ(
      Canopyctl(Concat({"policy", "set", "g", "--allow", "b"}, Tls("node-node-a")), &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("PERMISSION_DENIED: SetPolicy needs a certificate with "
                             "OU=operator; this one has OU=node, CN=node-a"));
  EXPECT_EQ(out, "");
  EXPECT_EQ(
      Canopyctl(Concat({"policy", "get", "g", "--format", "json"}, Tls("node-node-a")), &out, &err),
      0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"a\""));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("\"b\"")));
  EXPECT_EQ(Canopyctl(Concat({"stats"}, Tls("node-node-a")), &out, &err), 0) << err;

  // A publisher may do neither.
  EXPECT_EQ(Canopyctl(Concat({"nodes"}, Tls("publisher-a")), &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("PERMISSION_DENIED: ListNodes needs a certificate with OU=operator "
                             "or OU=node; this one has OU=publisher, CN=a"));
  EXPECT_EQ(
      Canopyctl(Concat({"policy", "set", "g", "--allow", ""}, Tls("publisher-a")), &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("PERMISSION_DENIED"));
}

// Deterministic bytes for message `i`: every byte value, sizes from 0 up
// to 1 MiB, around the TLS record size (16 KiB) and the gathering bound.
std::string Payload(int i) {
  static constexpr size_t kSizes[] = {0, 1, 31, 32, 1000, 16383, 16384, 16385, 100000, 1 << 20};
  std::string p(kSizes[static_cast<size_t>(i) % std::size(kSizes)] + static_cast<size_t>(i), '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
  for (char& c : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return p;
}

// The first line of `log` containing `needle`; "" if none.
std::string LineWith(const std::string& log, const std::string& needle) {
  const size_t at = log.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = log.rfind('\n', at);
  const size_t end = log.find('\n', at);
  return log.substr(begin == std::string::npos ? 0 : begin + 1,
                    end == std::string::npos ? std::string::npos
                                             : end - (begin == std::string::npos ? 0 : begin + 1));
}

// Receives messages [first, last) of source "a" and checks each is exactly
// Payload(i), in order, with no gap.
void ExpectMessages(Subscriber& sub, int first, int last, const std::string& logs) {
  for (int i = first; i < last; ++i) {
    absl::StatusOr<ReceivedMessage> m = sub.Next(kWait);
    ASSERT_TRUE(m.ok()) << "message " << i << ": " << m.status() << "\n" << logs;
    EXPECT_EQ(m->source, "a");
    EXPECT_EQ(m->sequence, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(m->missed_before, 0u);
    EXPECT_TRUE(m->payload == Payload(i)) << "message " << i << " differs";
  }
}

TEST_F(TlsTest, TlsNodesRelayAStreamBitExactOverEncryptedLinks) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  auto node_b = StartNode("node-b", "node-node-b");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();
  ASSERT_TRUE(AwaitNodeListed("node-b")) << node_b->Stderr();
  // Publisher on node-a, subscriber on node-b: the stream crosses the
  // node-a -> node-b data link. Both use TCP client links (on the node's
  // host the default would be shared memory, which never leaves it).
  SubscriberOptions sub_options;
  sub_options.node_address = clients_.at("node-b");
  sub_options.group = "g";
  sub_options.tls = ClientTls("operator-alice");
  sub_options.transport = Transport::kClientLink;
  absl::StatusOr<std::unique_ptr<Subscriber>> sub = Subscriber::Open(sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->WaitJoined(kWait).ok()) << node_b->Stderr();
  PublisherOptions pub_options{clients_.at("node-a"), "g", "a"};
  pub_options.tls = ClientTls("publisher-a");
  pub_options.transport = Transport::kClientLink;
  absl::StatusOr<std::unique_ptr<Publisher>> pub = Publisher::Open(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status() << node_a->Stderr();
  constexpr int kMessages = 120;
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE((*pub)->Send(Payload(i)).ok()) << i;
  absl::StatusOr<PublishResult> published = (*pub)->Finish();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->messages, static_cast<uint64_t>(kMessages));
  ExpectMessages(**sub, 0, kMessages, node_a->Stderr() + node_b->Stderr());

  // Every hop was TLS 1.3 with AES-GCM: the data link (both ends) and the
  // two client links.
  const std::string a_log = node_a->Stderr(), b_log = node_b->Stderr();
  EXPECT_THAT(LineWith(b_log, "] link from node-a ("), HasSubstr("TLSv1.3 TLS_AES_128_GCM_SHA256"))
      << b_log;
  EXPECT_THAT(LineWith(a_log, "] link to node-b at "), HasSubstr("TLSv1.3 TLS_AES_128_GCM_SHA256"))
      << a_log;
  EXPECT_THAT(LineWith(a_log, "publisher a of group g on client link"), HasSubstr("(TLSv1.3"));
  EXPECT_THAT(LineWith(b_log, "subscriber of group g on client link"), HasSubstr("(TLSv1.3"));
  EXPECT_EQ(Refused("node-b", "link_tls"), 0);
  EXPECT_EQ(Refused("node-b", "link_identity"), 0);
}

TEST_F(TlsTest, ClientsOnATlsNodesHostUseSharedMemory) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();
  // The calls are mutual TLS (certificates checked as ever); the link
  // token they carry opens rings that never leave the host.
  SubscriberOptions sub_options;
  sub_options.node_address = clients_.at("node-a");
  sub_options.group = "g";
  sub_options.tls = ClientTls("operator-alice");
  absl::StatusOr<std::unique_ptr<Subscriber>> sub = Subscriber::Open(sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->WaitJoined(kWait).ok()) << node_a->Stderr();
  PublisherOptions pub_options{clients_.at("node-a"), "g", "a"};
  pub_options.tls = ClientTls("publisher-a");
  absl::StatusOr<std::unique_ptr<Publisher>> pub = Publisher::Open(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status() << node_a->Stderr();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*pub)->Send(Payload(i)).ok()) << i;
  ASSERT_TRUE((*pub)->Finish().ok());
  ExpectMessages(**sub, 0, 50, node_a->Stderr());
  const std::string log = node_a->Stderr();
  EXPECT_THAT(LineWith(log, "publisher a of group g on client link"), HasSubstr("(shared memory)"));
  EXPECT_THAT(LineWith(log, "subscriber of group g on client link"), HasSubstr("(shared memory)"));
}

TEST_F(TlsTest, DataLinksFromImpostorsAreRefusedCountedAndHarmless) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  auto node_b = StartNode("node-b", "node-node-b");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();
  ASSERT_TRUE(AwaitNodeListed("node-b")) << node_b->Stderr();
  SubscriberOptions sub_options;
  sub_options.node_address = clients_.at("node-b");
  sub_options.group = "g";
  sub_options.tls = ClientTls("operator-alice");
  absl::StatusOr<std::unique_ptr<Subscriber>> sub = Subscriber::Open(sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->WaitJoined(kWait).ok()) << node_b->Stderr();
  PublisherOptions pub_options{clients_.at("node-a"), "g", "a"};
  pub_options.tls = ClientTls("publisher-a");
  absl::StatusOr<std::unique_ptr<Publisher>> pub = Publisher::Open(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status();
  constexpr int kHalf = 40;
  for (int i = 0; i < kHalf; ++i) ASSERT_TRUE((*pub)->Send(Payload(i)).ok()) << i;
  ExpectMessages(**sub, 0, kHalf, node_a->Stderr() + node_b->Stderr());

  // Impostors dial node-b's data port, say they are node-a, and push DATA
  // frames of the live flow with the next sequence numbers.
  absl::StatusOr<HostPort> data = ParseHostPort(DataAddress("node-b"));
  ASSERT_TRUE(data.ok()) << data.status();
  uint32_t handle = 0;
  {
    grpc::ClientContext context;
    v1::ListGroupsResponse groups;
    ASSERT_TRUE(Stub("operator-alice")->ListGroups(&context, {}, &groups).ok());
    for (const auto& g : groups.groups()) {
      if (g.group() == "g") handle = g.group_handle();
    }
  }
  ASSERT_NE(handle, 0u);
  const wire::Endpoint data_port{data->host, data->port};
  // True if node-b closed the impostor's connection (or refused its
  // handshake) within kWait.
  auto attack = [&](const std::shared_ptr<wire::TlsContext>& tls) {
    const absl::Time deadline = absl::Now() + kWait;
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> s =
        wire::ClientLink::Connect(data_port, "node-a", kWait, wire::ClientLinkTls{tls, ""});
    if (!s.ok()) {
      // With TLS 1.2-style ordering the node's refusal ends the handshake.
      EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
      return absl::Now() < deadline;
    }
    std::vector<wire::FramePtr> frames;
    for (uint32_t source_id = 1; source_id <= 4; ++source_id) {
      for (uint64_t seq = kHalf + 1; seq <= kHalf + 5; ++seq) {
        frames.push_back(
            wire::Frame::Make(wire::FrameType::kData, handle, source_id, seq, "forged"));
      }
    }
    for (const auto& f : frames) {
      const absl::string_view parts[] = {f->bytes()};
      if (!(*s)->Write(parts).ok()) break;  // the node already closed it
    }
    // Nothing ever comes back: the node closes the connection.
    std::string ignored;
    return !ReadWithin(**s, ignored).ok() && absl::Now() < deadline;
  };
  EXPECT_TRUE(attack(nullptr));                 // plaintext
  EXPECT_TRUE(attack(WireTls("node-node-c")));  // node-c's certificate, claiming node-a
  EXPECT_TRUE(attack(WireTls("publisher-a")));  // a publisher's certificate
  {
    // A node-a certificate of another CA.
    const fs::path other = dir_ / "other-ca";
    Process make(
        {"/bin/bash", CANOPY_SOURCE_DIR "/scripts/make-certs", other.string(), "--node", "node-a"});
    ASSERT_EQ(make.Wait(kWait), 0) << make.Stderr();
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{Cert("ca.crt"), (other / "node-node-a.crt").string(),
                              (other / "node-node-a.key").string()});
    ASSERT_TRUE(pem.ok()) << pem.status();
    auto forged = wire::TlsContext::Create({pem->ca, pem->cert, pem->key});
    ASSERT_TRUE(forged.ok()) << forged.status();
    EXPECT_TRUE(attack(*forged));
  }
  EXPECT_TRUE(AwaitRefused("node-b", "link_tls", 2)) << node_b->Stderr();
  EXPECT_TRUE(AwaitRefused("node-b", "link_identity", 2)) << node_b->Stderr();
  EXPECT_THAT(node_b->Stderr(),
              HasSubstr("announces node 'node-a'; refused: the certificate has OU=node, "
                        "CN=node-c, not OU=node, CN=node-a"));

  // node-c with its own certificate is a node, but not this flow's parent:
  // its link stands, and nothing it says about the flow counts.
  {
    const absl::Time deadline = absl::Now() + kWait;
    // The HELLO Connect sends names node-c, with no link token.
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> s = wire::ClientLink::Connect(
        data_port, "node-c", kWait, wire::ClientLinkTls{WireTls("node-node-c"), ""});
    ASSERT_TRUE(s.ok()) << s.status();
    const std::vector<wire::FramePtr> frames = {
        wire::MakeGap({handle, 1, kHalf + 1, uint64_t{1} << 62}),
        wire::Frame::Make(wire::FrameType::kData, handle, 1, kHalf + 1, "forged"),
        wire::MakeResume({handle, 1, 0, 0})};
    for (const auto& f : frames) {
      const absl::string_view parts[] = {f->bytes()};
      ASSERT_TRUE((*s)->Write(parts).ok());
    }
    const std::string key =
        "canopy_node_dropped_frames_total{group=\"g\",reason=\"not_from_parent\"} ";
    double dropped = 0;
    while (absl::Now() < deadline && dropped < 3) {
      absl::StatusOr<HttpResponse> r = HttpRequest(metrics_.at("node-b"), "GET", "/metrics", kWait);
      if (r.ok()) {
        const size_t at = r->body.find(key);
        if (at != std::string::npos) dropped = std::stod(r->body.substr(at + key.size()));
      }
      if (dropped < 3) absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
    }
    EXPECT_EQ(dropped, 3) << node_b->Stderr();
  }

  // The legitimate stream never noticed: the rest arrives exactly, in order.
  for (int i = kHalf; i < 2 * kHalf; ++i) ASSERT_TRUE((*pub)->Send(Payload(i)).ok()) << i;
  absl::StatusOr<PublishResult> published = (*pub)->Finish();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->messages, static_cast<uint64_t>(2 * kHalf));
  ExpectMessages(**sub, kHalf, 2 * kHalf, node_a->Stderr() + node_b->Stderr());
}

TEST_F(TlsTest, ClientLinksNeedTlsAndTheCallersCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  auto node_a = StartNode("node-a", "node-node-a");
  ASSERT_TRUE(AwaitNodeListed("node-a")) << node_a->Stderr();
  absl::StatusOr<HostPort> node = ParseHostPort(clients_.at("node-a"));
  ASSERT_TRUE(node.ok()) << node.status();
  v1::SubscribeRequest request;
  request.set_group("g");
  request.set_frame_link(true);

  // A client that opens its offered link in plaintext: the call ends with
  // a clear FAILED_PRECONDITION and the link carries nothing.
  {
    auto stub = NodeStub("node-a", "operator-alice");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->Subscribe(&context, request);
    v1::Delivery d;
    ASSERT_TRUE(reader->Read(&d));
    ASSERT_TRUE(d.has_link_offer());
    const wire::Endpoint at{node->host, static_cast<uint16_t>(d.link_offer().port())};
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> plaintext =
        wire::ClientLink::Connect(at, d.link_offer().token(), kWait);
    ASSERT_TRUE(plaintext.ok()) << plaintext.status();
    while (reader->Read(&d)) {
      EXPECT_FALSE(d.has_message());
    }
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("opened without TLS"));
    std::string ignored;
    EXPECT_FALSE(ReadWithin(**plaintext, ignored).ok());
  }

  // A TLS link presenting another certificate than the call's is refused;
  // the caller's own link then carries the messages, encrypted.
  auto stub = NodeStub("node-a", "operator-alice");
  grpc::ClientContext context;
  auto reader = stub->Subscribe(&context, request);
  v1::Delivery d;
  ASSERT_TRUE(reader->Read(&d));
  ASSERT_TRUE(d.has_link_offer());
  const wire::Endpoint at{node->host, static_cast<uint16_t>(d.link_offer().port())};
  absl::StatusOr<std::unique_ptr<wire::ClientLink>> stranger = wire::ClientLink::Connect(
      at, d.link_offer().token(), kWait, wire::ClientLinkTls{WireTls("publisher-a"), "node"});
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  std::string ignored;
  EXPECT_FALSE(ReadWithin(**stranger, ignored).ok());
  absl::StatusOr<std::unique_ptr<wire::ClientLink>> link = wire::ClientLink::Connect(
      at, d.link_offer().token(), kWait, wire::ClientLinkTls{WireTls("operator-alice"), "node"});
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_THAT((*link)->security(), HasSubstr("TLSv1.3"));
  EXPECT_EQ((*link)->node_certificate().common_name, "node-a");
  bool joined = false;
  while (!joined && reader->Read(&d)) joined = d.has_joined();
  ASSERT_TRUE(joined) << node_a->Stderr();
  std::string err;
  ASSERT_EQ(Publish("node-a", Concat({"--group", "g", "--source", "a"}, Tls("publisher-a")),
                    "over tls\n", &err),
            0)
      << err << node_a->Stderr();
  std::string payload;
  absl::StatusOr<wire::FrameHeader> h = ReadWithin(**link, payload);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->type, wire::FrameType::kSource);
  EXPECT_EQ(payload, "a");
  h = ReadWithin(**link, payload);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->type, wire::FrameType::kData);
  EXPECT_EQ(payload, "over tls");
  context.TryCancel();
  reader->Finish();

  EXPECT_TRUE(AwaitRefused("node-a", "client_links", 2)) << node_a->Stderr();
  EXPECT_THAT(node_a->Stderr(), HasSubstr("is not the one the call that was offered the link"));
}

// Exit code of a program that should refuse to start, or -1 if it did not
// end in time. `*err` gets its stderr.
int StartupFailure(std::vector<std::string> argv, std::string* err) {
  Process p(std::move(argv));
  std::optional<int> code = p.Wait(kWait);
  *err = p.Stderr();
  return code.value_or(-1);
}

TEST_F(TlsTest, UnusableTlsFilesAndFlagsFailAtStartup) {
  const std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  const std::string missing = (dir_ / "missing.crt").string();
  const std::vector<std::string> controller = {
      BinaryPath("canopy-controller"), "--listen",         "127.0.0.1:0", "--store",
      (dir_ / "store.db").string(),    "--metrics-listen", "127.0.0.1:0"};
  const std::vector<std::string> node = {BinaryPath("canopy-node"),
                                         "--id",
                                         "n",
                                         "--controller",
                                         "127.0.0.1:1",
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--data",
                                         "127.0.0.1:0",
                                         "--metrics-listen",
                                         "127.0.0.1:0"};
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  } cases[] = {
      {Concat(controller, {"--tls-ca", Cert("ca.crt"), "--tls-cert", missing, "--tls-key",
                           Cert("controller.key")}),
       "--tls-cert '" + missing + "': cannot read it"},
      {Concat(controller, {"--tls-ca", Cert("ca.crt"), "--tls-cert", garbage, "--tls-key",
                           Cert("controller.key")}),
       "--tls-cert '" + garbage + "': holds no PEM certificate"},
      {Concat(controller, {"--tls-ca", garbage, "--tls-cert", Cert("controller.crt"), "--tls-key",
                           Cert("controller.key")}),
       "--tls-ca '" + garbage + "': holds no PEM certificate"},
      {Concat(controller, {"--tls-ca", Cert("ca.crt")}),
       "go together: missing --tls-cert and --tls-key"},
      {Concat(controller, Concat({"--plaintext"}, Tls("controller"))), "--plaintext excludes"},
      {Concat(node, {"--tls-ca", Cert("ca.crt"), "--tls-cert", Cert("node-node-a.crt"), "--tls-key",
                     garbage}),
       "--tls-key '" + garbage + "': holds no PEM private key"},
      {Concat(node, {"--tls-ca", Cert("ca.crt"), "--tls-cert", Cert("node-node-a.crt"), "--tls-key",
                     Cert("node-node-b.key")}),
       "is not the key of the certificate"},
      {{BinaryPath("canopyctl"), "--controller", "127.0.0.1:1", "nodes", "--tls-ca", Cert("ca.crt"),
        "--tls-cert", garbage, "--tls-key", Cert("operator-alice.key")},
       "holds no PEM certificate"},
      {{BinaryPath("canopyctl"), "--controller", "127.0.0.1:1", "--tls-key", garbage, "nodes"},
       "missing --tls-ca and --tls-cert"},
      {Concat({BinaryPath("canopy-pub"), "--node", "127.0.0.1:1", "--group", "g", "--tls-ca",
               Cert("ca.crt"), "--tls-cert", missing, "--tls-key", Cert("publisher-a.key")},
              {}),
       "cannot read it"},
      {{BinaryPath("canopy-sub"), "--node", "127.0.0.1:1", "--group", "g", "--tls-cert",
        Cert("publisher-a.crt")},
       "go together"},
  };
  for (const Case& c : cases) {
    std::string err;
    const int code = StartupFailure(c.argv, &err);
    // Refused with a message: exit 1 or 2, never a crash or a hang.
    EXPECT_TRUE(code == 1 || code == 2) << "exit " << code << " for " << c.message << ": " << err;
    EXPECT_THAT(err, HasSubstr(c.message));
  }
}

TEST_F(TlsTest, PlaintextServersStayOnLoopbackUnlessAsked) {
  std::string err;
  const std::vector<std::string> controller = {
      BinaryPath("canopy-controller"), "--listen",         "0.0.0.0:0",  "--store",
      (dir_ / "store.db").string(),    "--metrics-listen", "127.0.0.1:0"};
  EXPECT_EQ(StartupFailure(controller, &err), 1);
  EXPECT_THAT(
      err, AllOf(HasSubstr("refusing to serve in plaintext on 0.0.0.0"), HasSubstr("--plaintext")));
  EXPECT_EQ(StartupFailure({BinaryPath("canopy-node"), "--id", "n", "--controller", "127.0.0.1:1",
                            "--listen", "0.0.0.0:0", "--metrics-listen", "127.0.0.1:0"},
                           &err),
            1);
  EXPECT_THAT(err, HasSubstr("refusing to serve in plaintext on 0.0.0.0"));

  // Asked for explicitly, it serves.
  Process open(Concat(controller, {"--plaintext"}));
  std::optional<std::string> line = open.WaitForStdout("listening", kWait);
  ASSERT_TRUE(line) << open.Stderr();
  EXPECT_THAT(*line, HasSubstr("tls=off"));
}

}  // namespace
}  // namespace canopy::testing
