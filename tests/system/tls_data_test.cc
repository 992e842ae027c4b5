// Mutual TLS between the real programs (README "TLS"), data plane:
// node-to-node links and client links encrypted, each data link bound to
// its parent's node certificate and each client link to its gRPC caller's
// certificate.

#include "tests/system/tls_fixture.h"

namespace canopy::testing {
namespace {

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

}  // namespace
}  // namespace canopy::testing
