// A client trusts nothing from the network: a fake node (a small gRPC
// server implementing canopy.v1.Node Subscribe) offers a client link and
// then sends hostile frame lengths and object manifests to the real
// canopy-sub and canopy-recv. Each ends with a clear error, exit 1, and a
// peak of resident memory bounded by the limits, not by what the node
// announced.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "canopy/v1/node.grpc.pb.h"
#include "client-sdk/src/object_codec.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/testing/process.h"
#include "wire/client_link.h"
#include "wire/client_link_server.h"
#include "wire/control_frames.h"
#include "wire/frame.h"

namespace canopy::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);
// A client's resident memory with everything it needs, and some room; the
// hostile inputs below would cost hundreds of MiB without the limits.
constexpr long kMaxPeakRssKib = 64 << 10;

// What the fake node does on a client link once the client presented its
// token; `stop` says the test's deadline passed.
using StopRequested = std::function<bool()>;
using LinkScript = std::function<void(wire::ClientLink& link, const StopRequested& stop)>;

// A node that answers Subscribe with a link offer advertising
// `max_payload_bytes`, then runs its script on the link, then holds the
// call until the client leaves. Its client links come through the node's
// own link server.
class FakeNode final : public v1::Node::Service {
 public:
  FakeNode(uint32_t max_payload_bytes, LinkScript script)
      : max_payload_bytes_(max_payload_bytes), script_(std::move(script)) {
    absl::StatusOr<std::unique_ptr<wire::ClientLinkServer>> links =
        wire::ClientLinkServer::Open(wire::Endpoint{"127.0.0.1", 0}, nullptr);
    EXPECT_TRUE(links.ok()) << links.status();
    links_ = *std::move(links);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~FakeNode() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (link_ != nullptr) link_->Shutdown();
    }
    server_->Shutdown(std::chrono::system_clock::now());
    {
      absl::MutexLock lock(&mu_);
      link_.reset();  // before the server whose thread it runs on
    }
    links_.reset();
  }

  const std::string& address() const { return address_; }

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest*,
                         grpc::ServerWriter<v1::Delivery>* writer) override {
    v1::Delivery offer;
    const std::string token = wire::NewClientLinkToken();
    offer.mutable_link_offer()->set_port(links_->bound().port);
    offer.mutable_link_offer()->set_token(token);
    offer.mutable_link_offer()->set_max_payload_bytes(max_payload_bytes_);
    const absl::Time deadline = absl::Now() + kWait;
    absl::Notification connected;
    absl::StatusOr<std::shared_ptr<wire::Connection>> connection = absl::UnknownError("");
    links_->Offer(token, "", deadline, [&](absl::StatusOr<std::shared_ptr<wire::Connection>> c) {
      connection = std::move(c);
      connected.Notify();
    });
    if (!writer->Write(offer)) {
      links_->Withdraw(token);
      connected.WaitForNotification();
      return grpc::Status::OK;
    }
    connected.WaitForNotification();
    if (!connection.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no link");
    auto link = std::make_shared<wire::ClientLink>(*connection);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return grpc::Status::OK;
      link_ = link;
    }
    v1::Delivery joined;
    joined.mutable_joined()->set_node_id("fake");
    writer->Write(joined);
    const StopRequested stop = [context, deadline] {
      return context->IsCancelled() || absl::Now() > deadline;
    };
    script_(*link, stop);
    // Whatever the client sends (resend requests) is read and ignored.
    while (!stop() && link->ReadFrame(wire::kDefaultMaxPayload).ok()) {
    }
    link->Shutdown();
    return grpc::Status::OK;
  }

 private:
  const uint32_t max_payload_bytes_;
  const LinkScript script_;
  std::unique_ptr<wire::ClientLinkServer> links_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  absl::Mutex mu_;
  std::shared_ptr<wire::ClientLink> link_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

bool Send(wire::ClientLink& link, absl::string_view bytes, const StopRequested& stop) {
  if (stop()) return false;
  const absl::string_view parts[] = {bytes};
  return link.Write(parts).ok();
}

// SOURCE "hostile", then the header of a DATA frame announcing `length`
// payload bytes, then up to 128 MiB of them for as long as the client reads.
LinkScript AnnounceLength(uint32_t length) {
  return [length](wire::ClientLink& link, const StopRequested& stop) {
    if (!Send(link, wire::MakeSource(1, 1, "hostile")->bytes(), stop)) return;
    std::string header(wire::Frame::Make(wire::FrameType::kData, 1, 1, 1, "")->bytes());
    for (int i = 0; i < 4; ++i) header[12 + i] = static_cast<char>(length >> (24 - 8 * i));
    if (!Send(link, header, stop)) return;
    const std::string filler(1 << 20, 'f');
    for (int mib = 0; mib < 128 && Send(link, filler, stop); ++mib) {
    }
  };
}

// SOURCE "sender", then `messages` as DATA frames with sequences 1, 2, ...
// unless `sequences` gives them.
LinkScript SendMessages(std::vector<std::string> messages, std::vector<uint64_t> sequences = {}) {
  return [messages, sequences](wire::ClientLink& link, const StopRequested& stop) {
    if (!Send(link, wire::MakeSource(1, 1, "sender")->bytes(), stop)) return;
    for (size_t i = 0; i < messages.size(); ++i) {
      const uint64_t sequence = i < sequences.size() ? sequences[i] : i + 1;
      if (!Send(link,
                wire::Frame::Make(wire::FrameType::kData, 1, 1, sequence, messages[i])->bytes(),
                stop)) {
        return;
      }
    }
  };
}

std::string Manifest(uint64_t size, uint32_t chunk_bytes, uint32_t chunk_count,
                     std::string name = "blob") {
  ObjectManifest m;
  m.object_id = 9;
  m.size = size;
  m.chunk_bytes = chunk_bytes;
  m.chunk_count = chunk_count;
  m.name = std::move(name);
  return EncodeManifest(m);
}

// A fresh, empty directory for canopy-recv --out.
std::string OutDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

struct Ended {
  std::optional<int> exit_code;
  std::string stderr_text;
  long peak_rss_kib = 0;
  absl::Duration took;
};

Ended RunToEnd(std::vector<std::string> argv) {
  const absl::Time start = absl::Now();
  Process p(std::move(argv));
  Ended e;
  e.exit_code = p.Wait(kWait);
  e.took = absl::Now() - start;
  e.stderr_text = p.Stderr();
  e.peak_rss_kib = p.PeakRssKib().value_or(-1);
  ::testing::Test::RecordProperty("peak_rss_kib", std::to_string(e.peak_rss_kib));
  return e;
}

TEST(HostileNodeTest, CanopySubRefusesFramesAboveTheLimitBeforeAllocatingThem) {
  struct Case {
    uint32_t advertised;  // LinkOffer.max_payload_bytes
    uint32_t announced;   // the DATA frame's length
    const char* limit;    // the limit the client applies
  };
  const Case cases[] = {
      {1 << 20, 0xFFFFFFFFu, "limit of 1048576"},
      {1 << 20, (1 << 20) + 1, "limit of 1048576"},
      {0, 32 << 20, "limit of 16777216"},                // a node that says nothing: 16 MiB
      {0xFFFFFFFFu, 0xFFFFFFFFu, "limit of 268435456"},  // believed up to 256 MiB only
  };
  for (const Case& c : cases) {
    FakeNode node(c.advertised, AnnounceLength(c.announced));
    Ended sub = RunToEnd({BinaryPath("canopy-sub"), "--node", node.address(), "--group", "g"});
    EXPECT_EQ(sub.exit_code, 1) << sub.stderr_text;
    EXPECT_THAT(sub.stderr_text, HasSubstr(absl::StrCat("frame payload of ", c.announced)));
    EXPECT_THAT(sub.stderr_text, HasSubstr(c.limit));
    EXPECT_THAT(sub.stderr_text, HasSubstr("sent a bad frame"));
    EXPECT_GT(sub.peak_rss_kib, 0);
    EXPECT_LT(sub.peak_rss_kib, kMaxPeakRssKib) << c.announced;
  }
}

TEST(HostileNodeTest, CanopyRecvRefusesAManifestOfFourBillionChunks) {
  // 49 bytes: 4294967295 chunks of one byte add up to the size, but a
  // receiver would keep a bit per byte.
  const std::string manifest = Manifest(4294967295u, 1, 4294967295u, "fifteen-bytes.x");
  ASSERT_EQ(manifest.size(), 49u);
  FakeNode node(wire::kDefaultMaxPayload, SendMessages({manifest}));
  const std::string out = OutDir("hostile-manifest");
  Ended recv = RunToEnd({BinaryPath("canopy-recv"), "--node", node.address(), "--group", "g",
                         "--out", out, "--timeout-s", "20"});
  EXPECT_EQ(recv.exit_code, 1) << recv.stderr_text;
  EXPECT_THAT(recv.stderr_text, HasSubstr("INVALID_ARGUMENT: object manifest from sender"));
  EXPECT_THAT(recv.stderr_text, HasSubstr("chunk size of 1 bytes"));
  EXPECT_LT(recv.peak_rss_kib, kMaxPeakRssKib);
  EXPECT_LT(recv.took, absl::Seconds(10));
  EXPECT_TRUE(std::filesystem::is_empty(out));
}

TEST(HostileNodeTest, CanopyRecvRefusesAnObjectAboveMaxMibBeforeWritingIt) {
  FakeNode node(wire::kDefaultMaxPayload,
                SendMessages({Manifest(uint64_t{1} << 30, 1 << 20, 1024, "big.bin")}));
  const std::string out = OutDir("over-max-mib");
  Ended recv = RunToEnd({BinaryPath("canopy-recv"), "--node", node.address(), "--group", "g",
                         "--out", out, "--max-mib", "64"});
  EXPECT_EQ(recv.exit_code, 1) << recv.stderr_text;
  EXPECT_THAT(recv.stderr_text, HasSubstr("RESOURCE_EXHAUSTED: object big.bin from sender is "
                                          "1073741824 bytes; this receiver takes at most "
                                          "67108864"));
  EXPECT_TRUE(std::filesystem::is_empty(out));
  EXPECT_LT(recv.peak_rss_kib, kMaxPeakRssKib);
}

TEST(HostileNodeTest, CanopyRecvHonoursItsTimeoutWhenASenderSkipsFarAhead) {
  // 1 GiB in 1 KiB chunks, then only the last chunk: a million chunks look
  // missing at once.
  const uint32_t chunks = 1u << 20;
  const std::string last(1024, 'z');
  auto header = EncodeChunkHeader(9, chunks - 1, last);
  FakeNode node(wire::kDefaultMaxPayload,
                SendMessages({Manifest(uint64_t{1} << 30, 1024, chunks),
                              std::string(header.data(), header.size()) + last},
                             {1, 1 + chunks}));
  const std::string out = OutDir("skips-ahead");
  Ended recv = RunToEnd({BinaryPath("canopy-recv"), "--node", node.address(), "--group", "g",
                         "--out", out, "--timeout-s", "2"});
  EXPECT_EQ(recv.exit_code, 1) << recv.stderr_text;
  EXPECT_THAT(recv.stderr_text, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_LT(recv.took, absl::Seconds(3));
  EXPECT_LT(recv.peak_rss_kib, kMaxPeakRssKib);
}

}  // namespace
}  // namespace canopy::testing
