// Client links against a real node: every transport interoperates, and a
// client that sends garbage on its link loses only its own call.

#include "wire/client_link.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"
#include "canopy/transport.h"
#include "canopy/v1/node.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"
#include "wire/control_frames.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

std::string Message(int i) { return absl::StrCat("message-", i, std::string(i % 7 * 1000, '.')); }

// Receives `n` messages and checks they are Message(1..n) from `source`.
void ExpectMessages(Subscriber& sub, int n, const std::string& source) {
  for (int i = 1; i <= n; ++i) {
    auto m = sub.Next(kWait);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->payload, Message(i));
    EXPECT_EQ(m->source, source);
    EXPECT_EQ(m->missed_before, 0u);
  }
}

TEST(NodeClientLinkTest, EveryTransportInteroperates) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  // Subscribers at node-b on shared memory (the default on the node's
  // host), on a TCP link, and inside the gRPC stream.
  std::vector<std::unique_ptr<Subscriber>> subs;
  for (Transport t : {Transport::kAuto, Transport::kClientLink, Transport::kGrpcStream}) {
    SubscriberOptions options{overlay.client_address("node-b"), "mixed"};
    options.transport = t;
    auto sub = Subscriber::Open(options);
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE((*sub)->WaitJoined(kWait).ok());
    subs.push_back(*std::move(sub));
  }
  ASSERT_TRUE(overlay.node("node-b").WaitForStderr("(shared memory)", kWait))
      << overlay.Logs();

  for (Transport t : {Transport::kSharedMemory, Transport::kClientLink, Transport::kGrpcStream}) {
    const std::string source = absl::StrCat("via-", TransportName(t));
    PublisherOptions options{overlay.client_address("node-a"), "mixed", source};
    options.transport = t;
    auto pub = Publisher::Open(options);
    ASSERT_TRUE(pub.ok()) << pub.status();
    for (int i = 1; i <= 300; ++i) ASSERT_TRUE((*pub)->Send(Message(i)).ok());
    auto summary = (*pub)->Finish();
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->messages, 300u);
    EXPECT_EQ(summary->last_sequence - summary->first_sequence, 299u);
    for (auto& sub : subs) ExpectMessages(*sub, 300, source);
  }
  ASSERT_TRUE(overlay.node("node-a").WaitForStderr(
      "publisher via-shm of group mixed on client link from local pid", kWait))
      << overlay.Logs();
}

TEST(NodeClientLinkTest, SharedMemoryIsRefusedClearlyWhenTheNodeOffersNone) {
  Overlay overlay;
  overlay.StartNode("node-a", 0, {"--local-ring-mib", "0"});
  PublisherOptions options{overlay.client_address("node-a"), "plain", "cam"};
  options.transport = Transport::kSharedMemory;
  auto pub = Publisher::Open(options);
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.status().code(), absl::StatusCode::kFailedPrecondition) << pub.status();
  EXPECT_THAT(std::string(pub.status().message()), HasSubstr("--local-ring-mib 0"));
  // The default falls back to the TCP link.
  auto fallback = Publisher::Open({overlay.client_address("node-a"), "plain", "cam"});
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  ASSERT_TRUE((*fallback)->Send("m").ok());
  ASSERT_TRUE((*fallback)->Finish().ok());
  EXPECT_TRUE(overlay.node("node-a").WaitForStderr("(plaintext)", kWait)) << overlay.Logs();
}

TEST(NodeClientLinkTest, ASubscriberGetsMessagesAgainOnRequest) {
  Overlay overlay;
  overlay.StartNode("node-a");
  overlay.StartNode("node-b");
  SubscriberOptions on_grpc{overlay.client_address("node-b"), "again"};
  on_grpc.transport = Transport::kGrpcStream;
  auto grpc_sub = Subscriber::Open(on_grpc);
  auto sub = Subscriber::Open({overlay.client_address("node-b"), "again"});
  ASSERT_TRUE(sub.ok() && grpc_sub.ok());
  ASSERT_TRUE((*sub)->WaitJoined(kWait).ok());
  ASSERT_TRUE((*grpc_sub)->WaitJoined(kWait).ok());
  EXPECT_EQ((*sub)->RequestResend("cam", 1, 2).code(), absl::StatusCode::kFailedPrecondition);
  auto pub = Publisher::Open({overlay.client_address("node-a"), "again", "cam"});
  ASSERT_TRUE(pub.ok());
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE((*pub)->Send(Message(i)).ok());
  ExpectMessages(**sub, 10, "cam");
  EXPECT_EQ((*grpc_sub)->RequestResend("cam", 1, 2).code(), absl::StatusCode::kUnimplemented);

  ASSERT_TRUE((*sub)->RequestResend("cam", 3, 6).ok());
  for (int i = 3; i <= 6; ++i) {
    auto m = (*sub)->Next(kWait);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->payload, Message(i));
    EXPECT_TRUE(m->resent);
    EXPECT_EQ(m->missed_before, 0u);
  }
  // Live messages continue after the resent ones.
  ASSERT_TRUE((*pub)->Send(Message(11)).ok());
  auto m = (*sub)->Next(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->payload, Message(11));
  EXPECT_FALSE(m->resent);
}

TEST(NodeClientLinkTest, ClientsBeyondTheNodesLimitsAreRefusedClearly) {
  Overlay overlay;
  overlay.StartNode("node-a", 0, {"--max-subscriptions", "2", "--max-publishers", "1"});
  const std::string address = overlay.client_address("node-a");
  auto first = Subscriber::Open({address, "busy"});
  auto second = Subscriber::Open({address, "busy"});
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->WaitJoined(kWait).ok());
  ASSERT_TRUE((*second)->WaitJoined(kWait).ok());
  auto third = Subscriber::Open({address, "busy"});
  ASSERT_TRUE(third.ok());
  absl::Status refused = (*third)->WaitJoined(kWait);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("--max-subscriptions"));

  auto pub = Publisher::Open({address, "busy", "one"});
  ASSERT_TRUE(pub.ok()) << pub.status();
  auto extra = Publisher::Open({address, "busy", "two"});
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kResourceExhausted) << extra.status();
  // Those admitted carry on; a freed slot admits again.
  ASSERT_TRUE((*pub)->Send("still here").ok());
  auto m = (*first)->Next(kWait);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->payload, "still here");
  ASSERT_TRUE((*pub)->Finish().ok());
  absl::StatusOr<std::unique_ptr<Publisher>> later = absl::UnavailableError("not yet");
  const absl::Time deadline = absl::Now() + kWait;
  while (!later.ok() && absl::Now() < deadline) {
    later = Publisher::Open({address, "busy", "two"});
  }
  EXPECT_TRUE(later.ok()) << later.status();
}

// Opens a PublishOverLink call by hand and connects its link.
struct RawPublisher {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::PublishLinkEvent>> reader;
  absl::StatusOr<std::unique_ptr<wire::ClientLink>> link = absl::UnknownError("not connected");
};

void OpenRaw(v1::Node::Stub& stub, const std::string& address, RawPublisher& raw) {
  v1::PublishLinkRequest request;
  request.set_group("shared");
  request.set_source("vandal");
  raw.reader = stub.PublishOverLink(&raw.context, request);
  v1::PublishLinkEvent offer;
  ASSERT_TRUE(raw.reader->Read(&offer));
  ASSERT_TRUE(offer.has_link_offer());
  const std::string host = address.substr(0, address.rfind(':'));
  raw.link = wire::ClientLink::Connect(
      wire::Endpoint{host, static_cast<uint16_t>(offer.link_offer().port())},
      offer.link_offer().token(), kWait);
  ASSERT_TRUE(raw.link.ok()) << raw.link.status();
}

grpc::Status EndOf(RawPublisher& raw) {
  v1::PublishLinkEvent ignored;
  while (raw.reader->Read(&ignored)) {
  }
  return raw.reader->Finish();
}

TEST(NodeClientLinkTest, HostileFramesEndOnlyTheirOwnCall) {
  Overlay overlay;
  overlay.StartNode("node-a");
  const std::string address = overlay.client_address("node-a");
  auto sub = Subscriber::Open({address, "shared"});
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE((*sub)->WaitJoined(kWait).ok());
  auto honest = Publisher::Open({address, "shared", "honest"});
  ASSERT_TRUE(honest.ok()) << honest.status();
  auto stub = v1::Node::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  struct Attack {
    std::string name;
    std::string bytes;
    grpc::StatusCode code;
    std::string says;
  };
  std::string corrupt(wire::Frame::Make(wire::FrameType::kData, 0, 0, 1, "payload")->bytes());
  corrupt.back() ^= 1;
  std::string huge(wire::Frame::Make(wire::FrameType::kData, 0, 0, 1, "")->bytes());
  huge[12] = '\x7f';
  std::string bad_magic(wire::Frame::Make(wire::FrameType::kData, 0, 0, 1, "x")->bytes());
  bad_magic[0] = 'G';
  const std::vector<Attack> attacks = {
      {"bad checksum", corrupt, grpc::StatusCode::DATA_LOSS, "checksum"},
      {"huge length", huge, grpc::StatusCode::INVALID_ARGUMENT, "exceeds"},
      {"wrong magic", bad_magic, grpc::StatusCode::INVALID_ARGUMENT, "magic"},
      {"not DATA", std::string(wire::MakeSource(0, 0, "x")->bytes()),
       grpc::StatusCode::INVALID_ARGUMENT, "DATA"},
      {"truncated",
       std::string(
           wire::Frame::Make(wire::FrameType::kData, 0, 0, 1, "abcdef")->bytes().substr(0, 36)),
       grpc::StatusCode::UNAVAILABLE, "inside a frame"},
  };
  int sent = 0;
  for (const Attack& attack : attacks) {
    SCOPED_TRACE(attack.name);
    RawPublisher raw;
    OpenRaw(*stub, address, raw);
    const absl::string_view parts[] = {attack.bytes};
    ASSERT_TRUE((*raw.link)->Write(parts).ok());
    (*raw.link)->ShutdownWrite();
    grpc::Status end = EndOf(raw);
    EXPECT_EQ(end.error_code(), attack.code) << end.error_message();
    EXPECT_THAT(end.error_message(), HasSubstr(attack.says));

    // The honest publisher and the subscriber carry on.
    ++sent;
    ASSERT_TRUE((*honest)->Send(Message(sent)).ok());
    auto m = (*sub)->Next(kWait);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->source, "honest");
    EXPECT_EQ(m->payload, Message(sent));
  }
  EXPECT_THAT(overlay.node("node-a").Stderr(), HasSubstr("publisher vandal of group shared"));
}

}  // namespace
}  // namespace canopy::testing
