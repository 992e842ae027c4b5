// Mutual TLS on data links (wire/tls_context.h), with certificates made by
// scripts/make-certs: node links bind the HELLO to the parent's certificate
// and the child's certificate to the node dialed; client links accept only
// TLS with the caller's certificate.

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/write.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/wire/link_server_fixture.h"
#include "wire/client_link.h"
#include "wire/control_frames.h"
#include "wire/frame.h"
#include "wire/link_listener.h"
#include "wire/outbound_link.h"
#include "wire/tls_context.h"

namespace canopy::wire {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(10);

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Certificates of one CA: nodes node-a, node-b, node-c, publisher "pub",
// operator alice; made once for every test (the script takes a moment).
class Certificates : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("canopy-wire-tls-", getpid());
    const std::string command = absl::StrCat(
        CANOPY_SOURCE_DIR "/scripts/make-certs '", dir_.string(),
        "' --node node-a --node node-b --node node-c --publisher pub --operator alice >/dev/null");
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::string Pem(const std::string& file) { return ReadText(dir_ / file); }

  // The credentials of certificate `name` ("node-node-a", "publisher-pub").
  static TlsCredentials Of(const std::string& name) {
    return TlsCredentials{Pem("ca.crt"), Pem(name + ".crt"), Pem(name + ".key")};
  }

  static std::shared_ptr<TlsContext> Context(const std::string& name) {
    absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(Of(name));
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }

  static LinkTls Node(const std::string& id) { return LinkTls{Context("node-" + id), "node"}; }

 private:
  static fs::path dir_;
};
fs::path Certificates::dir_;

const ::testing::Environment* const kCertificates =
    ::testing::AddGlobalTestEnvironment(new Certificates);

TEST(TlsContextTest, UnusableCredentialsAreClearErrors) {
  TlsCredentials no_ca = Certificates::Of("node-node-a");
  no_ca.ca_pem = "not a certificate";
  EXPECT_THAT(TlsContext::Create(no_ca).status().message(), HasSubstr("no CA certificate"));
  TlsCredentials wrong_key = Certificates::Of("node-node-a");
  wrong_key.key_pem = Certificates::Pem("node-node-b.key");
  EXPECT_THAT(TlsContext::Create(wrong_key).status().message(), HasSubstr("key"));
  TlsCredentials no_cert = Certificates::Of("node-node-a");
  no_cert.cert_pem = "";
  EXPECT_EQ(TlsContext::Create(no_cert).status().code(), absl::StatusCode::kInvalidArgument);
}

// A TLS listener for node-b on loopback with its own I/O thread, recording
// the frames and HELLOs that reach it.
class TlsLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto listener = LinkListener::Open(
        io_, Endpoint{"127.0.0.1", 0}, 4 << 20,
        [this](FramePtr f, InboundLink& link) {
          absl::MutexLock lock(&mu_);
          if (f->header().type == FrameType::kHello) {
            hellos_.push_back(link.peer_node());
            parent_ = link.shared_from_this();
            return;
          }
          received_.push_back(f);
        },
        LinkLimits{}, Certificates::Node("node-b"));
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { listener_->Close(); });
    work_.reset();
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }

  Endpoint bound() const { return listener_->bound(); }

  // Opens a link from `local_id` to node `peer` presenting `tls`; the
  // closed callback fills `closed_status_`.
  std::shared_ptr<OutboundLink> Open(const std::string& local_id, const std::string& peer,
                                     LinkTls tls, ControlHandler on_control = nullptr) {
    OutboundLinkOptions options;
    options.local_node_id = local_id;
    options.tls = std::move(tls);
    options.on_control = std::move(on_control);
    return OutboundLink::Start(io_, peer, bound(), options, [this](const absl::Status& s) {
      absl::MutexLock lock(&mu_);
      closed_status_ = s;
      closed_ = true;
    });
  }

  bool AwaitFrames(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }
  bool AwaitClosed() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&closed_), kDeadline);
  }
  // Polls a listener counter until it reaches `n` (bounded).
  bool AwaitCount(const std::function<uint64_t()>& count, uint64_t n) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (count() < n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));  // poll interval, bounded by the deadline
    }
    return true;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<LinkListener> listener_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> hellos_ ABSL_GUARDED_BY(mu_);
  std::vector<FramePtr> received_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<InboundLink> parent_ ABSL_GUARDED_BY(mu_);
  absl::Status closed_status_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(TlsLinkTest, FramesOfEverySizeArriveExactlyAndControlFramesGoBack) {
  std::atomic<int> resumes{0};
  auto link = Open("node-a", "node-b", Certificates::Node("node-a"),
                   [&](FramePtr f, const std::shared_ptr<QueuedLink>&) {
                     if (f->header().type == FrameType::kResume) resumes.fetch_add(1);
                   });
  // Sizes around the TLS record (16 KiB) and the gathering bound, up to 3 MiB.
  const size_t sizes[] = {0, 1, 31, 32, 8191, 8192, 16383, 16384, 16385, 65536, 1 << 20, 3 << 20};
  std::vector<std::string> payloads;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string p(sizes[i], '\0');
    for (size_t j = 0; j < p.size(); ++j) p[j] = static_cast<char>((j * 131 + i * 7) & 0xff);
    payloads.push_back(p);
    EXPECT_TRUE(link->Send(Frame::Make(FrameType::kData, 3, 4, i + 1, p)));
  }
  ASSERT_TRUE(AwaitFrames(payloads.size()));
  std::shared_ptr<InboundLink> parent;
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(hellos_, std::vector<std::string>{"node-a"});
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(received_[i]->header().sequence, i + 1);
      EXPECT_TRUE(received_[i]->payload() == payloads[i]) << "payload " << i;
    }
    parent = parent_;
  }
  // The child's RESUME travels back over the same TLS session.
  asio::post(io_, [parent] { parent->Send(MakeResume({3, 4, 5, 0})); });
  const absl::Time deadline = absl::Now() + kDeadline;
  while (resumes.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(resumes.load(), 1);
  EXPECT_EQ(listener_->refused_tls(), 0u);
  EXPECT_EQ(listener_->refused_identity(), 0u);
  link->Close();
}

TEST_F(TlsLinkTest, AProbeHelloIsCheckedWithoutItsSuffix) {
  auto link =
      Open(absl::StrCat("node-a", kProbeHelloSuffix), "node-b", Certificates::Node("node-a"));
  link->Send(MakePing(1));
  const absl::Time deadline = absl::Now() + kDeadline;
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&mu_);
      if (!hellos_.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(5));  // poll interval, bounded by the deadline
  }
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(hellos_, std::vector<std::string>{"node-a"});
  EXPECT_EQ(listener_->refused_identity(), 0u);
}

TEST_F(TlsLinkTest, AParentAnnouncingAnotherNodeIsRefusedAndCounted) {
  // node-c's valid certificate, but the HELLO says node-a.
  auto link = Open("node-a", "node-b", Certificates::Node("node-c"));
  link->Send(Frame::Make(FrameType::kData, 1, 1, 1, "forged"));
  ASSERT_TRUE(AwaitCount([&] { return listener_->refused_identity(); }, 1));
  ASSERT_TRUE(AwaitClosed());
  // A publisher's certificate is no node's either.
  auto publisher = Open("pub", "node-b", LinkTls{Certificates::Context("publisher-pub"), "node"});
  ASSERT_TRUE(AwaitCount([&] { return listener_->refused_identity(); }, 2));
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(hellos_.empty());
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(listener_->refused_tls(), 0u);
}

TEST_F(TlsLinkTest, PlaintextAndCertificatelessPeersAreRefusedAndCounted) {
  auto plaintext = Open("node-a", "node-b", LinkTls{});
  plaintext->Send(Frame::Make(FrameType::kData, 1, 1, 1, "in the clear"));
  ASSERT_TRUE(AwaitCount([&] { return listener_->refused_tls(); }, 1));

  // A TLS client that trusts the CA but presents no certificate.
  std::thread anonymous([&] {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls);
    const std::string ca = Certificates::Pem("ca.crt");
    boost::system::error_code ec;
    ctx.add_certificate_authority(asio::buffer(ca), ec);
    ASSERT_FALSE(ec) << ec.message();
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
    stream.next_layer().connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), bound().port), ec);
    ASSERT_FALSE(ec) << ec.message();
    stream.handshake(asio::ssl::stream_base::client, ec);
    FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, "node-a");
    asio::write(stream, asio::buffer(hello->bytes().data(), hello->bytes().size()), ec);
    char byte;
    stream.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec);  // the node closes the link
  });
  anonymous.join();
  ASSERT_TRUE(AwaitCount([&] { return listener_->refused_tls(); }, 2));
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(hellos_.empty());
  EXPECT_TRUE(received_.empty());
}

TEST_F(TlsLinkTest, AChildWithAnotherNodesCertificateIsRefusedByTheParent) {
  // The listener is node-b; a link meant for node-c must not talk to it.
  auto link = Open("node-a", "node-c", Certificates::Node("node-a"));
  link->Send(Frame::Make(FrameType::kData, 1, 1, 1, "for node-c only"));
  ASSERT_TRUE(AwaitClosed());
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(closed_status_.code(), absl::StatusCode::kPermissionDenied) << closed_status_;
  EXPECT_THAT(closed_status_.message(), HasSubstr("OU=node, CN=node-b"));
  EXPECT_TRUE(received_.empty());
}

// --- Client links.

std::string CallerDer(const std::string& caller_cert) {
  absl::StatusOr<std::string> der = CertificateDer(Certificates::Pem(caller_cert + ".crt"));
  EXPECT_TRUE(der.ok()) << der.status();
  return der.value_or("");
}

ClientLinkTls ClientSide(const std::string& cert) {
  return ClientLinkTls{Certificates::Context(cert), "node"};
}

TEST(TlsClientLinkTest, FramesFlowBothWaysOverTlsWithTheCallersCertificate) {
  testing::LinkServerFixture node(Certificates::Context("node-node-a"));
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token, CallerDer("publisher-pub"));
  std::vector<std::string> payloads;
  for (size_t size : {size_t{0}, size_t{5}, size_t{16384}, size_t{100000}, size_t{2} << 20}) {
    std::string p(size, '\0');
    for (size_t j = 0; j < p.size(); ++j) p[j] = static_cast<char>((j * 7 + size) & 0xff);
    payloads.push_back(p);
  }
  auto client = ClientLink::Connect(node.at(), token, kDeadline, ClientSide("publisher-pub"));
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_THAT((*client)->security(), HasSubstr("TLS"));
  auto connection = offer->Await(kDeadline);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ((*connection)->peer().common_name, "pub");
  ClientLink link(*connection);
  std::thread writer([&] {
    // Headers and payloads as separate parts of one gathered write.
    std::vector<std::array<char, kHeaderSize>> headers(payloads.size());
    std::vector<absl::string_view> parts;
    for (size_t i = 0; i < payloads.size(); ++i) {
      EncodeHeader(FrameType::kData, 0, 0, i + 1, payloads[i], headers[i].data());
      parts.push_back(absl::string_view(headers[i].data(), kHeaderSize));
      parts.push_back(payloads[i]);
    }
    EXPECT_TRUE((*client)->Write(parts).ok());
  });
  for (size_t i = 0; i < payloads.size(); ++i) {
    auto bytes = link.ReadFrame(4 << 20);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto frame = Frame::Adopt(*std::move(bytes), 4 << 20);
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_EQ((*frame)->header().sequence, i + 1);
    EXPECT_TRUE((*frame)->payload() == payloads[i]) << "payload " << i;
  }
  writer.join();
  FramePtr source = MakeSource(1, 2, "camera");
  const absl::string_view parts[] = {source->bytes()};
  EXPECT_TRUE(link.Write(parts).ok());
  std::string payload;
  auto h = (*client)->ReadInto(payload, 1 << 20);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(payload, "camera");
  // The client's close_notify is a clean end between frames.
  (*client)->ShutdownWrite();
  EXPECT_EQ(link.ReadFrame(1 << 20).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(TlsClientLinkTest, AnotherCertificateThanTheCallersIsRefusedAndTheCallerStillGetsIn) {
  testing::LinkServerFixture node(Certificates::Context("node-node-a"));
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token, CallerDer("publisher-pub"));
  // alice knows the token but is not the caller.
  auto stranger = ClientLink::Connect(node.at(), token, kDeadline, ClientSide("operator-alice"));
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  std::string ignored;
  EXPECT_FALSE((*stranger)->ReadInto(ignored, 1 << 20).ok());
  EXPECT_EQ(node.server().refused(), 1u);
  auto caller = ClientLink::Connect(node.at(), token, kDeadline, ClientSide("publisher-pub"));
  ASSERT_TRUE(caller.ok()) << caller.status();
  auto connection = offer->Await(kDeadline);
  ASSERT_TRUE(connection.ok()) << connection.status();
  EXPECT_EQ((*connection)->peer().common_name, "pub");
}

TEST(TlsClientLinkTest, APlaintextClientWithTheTokenVoidsTheOffer) {
  testing::LinkServerFixture node(Certificates::Context("node-node-a"));
  const std::string token = NewClientLinkToken();
  auto offer = node.Offer(token, CallerDer("publisher-pub"));
  // A stranger in plaintext without the token is only refused...
  auto stranger = ClientLink::Connect(node.at(), "0123", kDeadline);
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  std::string ignored;
  EXPECT_FALSE((*stranger)->ReadInto(ignored, 1 << 20).ok());
  // ...the client in plaintext ends the offer.
  auto plaintext = ClientLink::Connect(node.at(), token, kDeadline);
  ASSERT_TRUE(plaintext.ok()) << plaintext.status();
  auto link = offer->Await(kDeadline);
  EXPECT_EQ(link.status().code(), absl::StatusCode::kFailedPrecondition) << link.status();
  EXPECT_THAT(link.status().message(), HasSubstr("without TLS"));
  EXPECT_EQ(node.server().refused(), 2u);
}

TEST(TlsClientLinkTest, AClientAcceptsOnlyANodeCertificate) {
  // Something holding alice's (operator) certificate serves the port.
  testing::LinkServerFixture impostor(Certificates::Context("operator-alice"));
  auto link = ClientLink::Connect(impostor.at(), "token", kDeadline, ClientSide("publisher-pub"));
  EXPECT_EQ(link.status().code(), absl::StatusCode::kPermissionDenied) << link.status();
  EXPECT_THAT(link.status().message(), HasSubstr("OU=operator"));
}

}  // namespace
}  // namespace canopy::wire
