// Mutual TLS between the real programs (README "TLS"), control plane: node
// ids bound to node certificates, source ids bound to publisher
// certificates, policy changes bound to operator certificates, plaintext
// clients shut out, and unusable TLS files refused at startup.

#include "tests/system/tls_fixture.h"

namespace canopy::testing {
namespace {

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
