#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "gtest/gtest.h"
#include "wire/control_frames.h"
#include "wire/frame.h"
#include "wire/link_listener.h"
#include "wire/outbound_link.h"

namespace canopy::wire {
namespace {

namespace asio = boost::asio;
constexpr absl::Duration kDeadline = absl::Seconds(10);

// A listener on loopback running on its own I/O thread, recording frames.
class LinkFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto listener = LinkListener::Open(io_, Endpoint{"127.0.0.1", 0}, 1 << 20,
                                       [this](FramePtr f, InboundLink& link) {
                                         if (on_frame_) on_frame_(f, link);
                                         absl::MutexLock lock(&mu_);
                                         if (f->header().type == FrameType::kHello) {
                                           hellos_.push_back(link.peer_node());
                                           return;
                                         }
                                         received_.push_back({link.peer_node(), f});
                                       });
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

  // Waits until `n` frames arrived; false on deadline.
  bool AwaitFrames(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<LinkListener> listener_;
  std::thread thread_;
  // Runs on the I/O thread for every frame, before it is recorded.
  std::function<void(const FramePtr&, InboundLink&)> on_frame_;
  absl::Mutex mu_;
  std::vector<std::string> hellos_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, FramePtr>> received_ ABSL_GUARDED_BY(mu_);
};

// Collects the control frames a child sends back on an outbound link.
struct ControlInbox {
  absl::Mutex mu;
  std::vector<FramePtr> frames ABSL_GUARDED_BY(mu);
  ControlHandler Handler() {
    return [this](FramePtr f, const std::shared_ptr<QueuedLink>&) {
      absl::MutexLock lock(&mu);
      frames.push_back(std::move(f));
    };
  }
  bool Await(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return frames.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), kDeadline);
  }
};

TEST_F(LinkFixture, ChildAnswersPingAndSendsResumeBackToTheParent) {
  // The child asks for a resend when it sees sequence 3.
  on_frame_ = [](const FramePtr& f, InboundLink& link) {
    if (f->header().type == FrameType::kData && f->header().sequence == 3) {
      link.Send(MakeResume({3, 4, 2, 0}));
    }
  };
  ControlInbox inbox;
  OutboundLinkOptions options;
  options.local_node_id = "parent";
  options.on_control = inbox.Handler();
  auto link = OutboundLink::Start(io_, "child", listener_->bound(), options, nullptr);
  ASSERT_TRUE(link->Send(MakePing(12345)));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(link->Send(Frame::Make(FrameType::kData, 3, 4, i, "x")));
  ASSERT_TRUE(inbox.Await(2));
  absl::MutexLock lock(&inbox.mu);
  absl::StatusOr<uint64_t> pong = ParsePong(*inbox.frames[0]);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(*pong, 12345u);
  absl::StatusOr<ResumeRequest> resume = ParseResume(*inbox.frames[1]);
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->group_handle, 3u);
  EXPECT_EQ(resume->source_id, 4u);
  EXPECT_EQ(resume->after, 2u);
  EXPECT_FALSE(link->closed());
  link->Close();
}

TEST_F(LinkFixture, ProbeHelloIsMarkedAndNamesThePeer) {
  bool probe = false;
  on_frame_ = [&probe](const FramePtr& f, InboundLink& link) {
    if (f->header().type == FrameType::kHello) probe = link.probe();
  };
  OutboundLinkOptions options;
  options.local_node_id = std::string("node-x") + std::string(kProbeHelloSuffix);
  auto link = OutboundLink::Start(io_, "child", listener_->bound(), options, nullptr);
  ASSERT_TRUE(link->Send(Frame::Make(FrameType::kData, 1, 1, 1, "x")));
  ASSERT_TRUE(AwaitFrames(1));
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(probe);
  EXPECT_EQ(received_[0].first, "node-x");
}

TEST_F(LinkFixture, ChildSendingDataBackClosesTheLink) {
  // A child that talks DATA upstream is broken or hostile: only its link
  // closes, with an error.
  asio::ip::tcp::acceptor acceptor(io_,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  absl::Notification closed;
  absl::Status status;
  OutboundLinkOptions options;
  options.local_node_id = "parent";
  auto link = OutboundLink::Start(io_, "child", Endpoint{"127.0.0.1", port}, options,
                                  [&](const absl::Status& s) {
                                    status = s;
                                    closed.Notify();
                                  });
  asio::io_context child_io;
  asio::ip::tcp::socket child(child_io);
  boost::system::error_code ec;
  acceptor.accept(child, ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string data(Frame::Make(FrameType::kData, 1, 1, 1, "upstream?")->bytes());
  asio::write(child, asio::buffer(data), ec);
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(link->closed());
}

TEST_F(LinkFixture, DeliversFramesInOrderWithSenderName) {
  OutboundLinkOptions options;
  options.local_node_id = "parent-1";
  auto link = OutboundLink::Start(io_, "child", listener_->bound(), options, nullptr);
  constexpr int kFrames = 2000;
  for (int i = 1; i <= kFrames; ++i) {
    ASSERT_TRUE(link->Send(Frame::Make(FrameType::kData, 3, 4, i, std::to_string(i))));
  }
  ASSERT_TRUE(AwaitFrames(kFrames));
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kFrames; ++i) {
    EXPECT_EQ(received_[i].first, "parent-1");
    EXPECT_EQ(received_[i].second->header().sequence, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(received_[i].second->payload(), std::to_string(i + 1));
  }
  link->Close();
}

TEST_F(LinkFixture, GarbageClosesOnlyThatLink) {
  // A hostile peer sends a valid HELLO and then junk.
  asio::io_context client_io;
  asio::ip::tcp::socket raw(client_io);
  raw.connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), listener_->bound().port));
  std::string junk(Frame::Make(FrameType::kHello, 0, 0, 0, "evil")->bytes());
  junk += std::string(64, '\xff');
  asio::write(raw, asio::buffer(junk));

  // The listener closes the hostile link: our read sees EOF or reset.
  char byte;
  boost::system::error_code ec;
  raw.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "hostile link stayed open";

  // A well-behaved link is unaffected.
  OutboundLinkOptions options;
  options.local_node_id = "good";
  auto link = OutboundLink::Start(io_, "child", listener_->bound(), options, nullptr);
  ASSERT_TRUE(link->Send(Frame::Make(FrameType::kData, 1, 1, 1, "still fine")));
  ASSERT_TRUE(AwaitFrames(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(received_[0].first, "good");
  link->Close();
}

TEST_F(LinkFixture, DataBeforeHelloIsRefused) {
  asio::io_context client_io;
  asio::ip::tcp::socket raw(client_io);
  raw.connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), listener_->bound().port));
  std::string data(Frame::Make(FrameType::kData, 1, 1, 1, "sneaky")->bytes());
  asio::write(raw, asio::buffer(data));
  char byte;
  boost::system::error_code ec;
  raw.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec);
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(received_.empty());
}

TEST_F(LinkFixture, UnreachablePeerReportsUnavailable) {
  // Bind and close a port so nothing listens there.
  asio::ip::tcp::acceptor probe(io_,
                                asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t dead_port = probe.local_endpoint().port();
  probe.close();
  OutboundLinkOptions options;
  options.connect_timeout = absl::Milliseconds(300);
  absl::Notification closed;
  absl::Status status;
  auto link = OutboundLink::Start(io_, "ghost", Endpoint{"127.0.0.1", dead_port}, options,
                                  [&](const absl::Status& s) {
                                    status = s;
                                    closed.Notify();
                                  });
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("ghost"), absl::string_view::npos) << status;
  EXPECT_FALSE(link->Send(Frame::Make(FrameType::kData, 1, 1, 1, "x")));
}

TEST_F(LinkFixture, QueueDepthDrivesBackPressure) {
  OutboundLinkOptions options;
  options.high_watermark_bytes = 64 << 10;
  options.low_watermark_bytes = 16 << 10;
  options.local_node_id = "parent";
  auto link = OutboundLink::Start(io_, "child", listener_->bound(), options, nullptr);
  const std::string big(128 << 10, 'z');
  ASSERT_TRUE(link->Send(Frame::Make(FrameType::kData, 1, 1, 1, big)));
  // Until written, more than the high watermark is queued.
  absl::Notification drained;
  link->NotifyWhenDrained([&] { drained.Notify(); });
  ASSERT_TRUE(drained.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_LE(link->QueuedBytes(), options.low_watermark_bytes);
  ASSERT_TRUE(AwaitFrames(1));
  link->Close();
}

TEST_F(LinkFixture, DroppingOldestKeepsTheQueueBoundedAndDeliversTheNewest) {
  // Nothing listens yet: frames queue while the link retries its connect.
  asio::ip::tcp::acceptor probe(io_,
                                asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = probe.local_endpoint().port();
  probe.close();
  OutboundLinkOptions options;
  options.local_node_id = "parent";
  options.high_watermark_bytes = 256 << 10;
  options.connect_timeout = absl::Seconds(30);
  auto link = OutboundLink::Start(io_, "child", Endpoint{"127.0.0.1", port}, options, nullptr);
  const std::string chunk(100 << 10, 'd');
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(link->SendDroppingOldest(Frame::Make(FrameType::kData, 1, 1, i, chunk)));
  }
  EXPECT_LE(link->QueuedBytes(), options.high_watermark_bytes);
  EXPECT_EQ(link->dropped_frames(), 18u);
  link->Close();
}

TEST(LinkLimitsTest, LinksBeyondThePerAddressLimitAreClosedAndCounted) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::atomic<int> hellos{0};
  auto listener = LinkListener::Open(
      io, Endpoint{"127.0.0.1", 0}, 1 << 20,
      [&](FramePtr f, InboundLink&) { hellos += f->header().type == FrameType::kHello; },
      LinkLimits{/*per_address=*/2, /*total=*/100});
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::thread thread([&] { io.run(); });
  const uint16_t port = (*listener)->bound().port;

  // Three raw connections from one address: the third is closed at once.
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> sockets;
  for (int i = 0; i < 3; ++i) {
    auto s = std::make_unique<asio::ip::tcp::socket>(io);
    s->connect({asio::ip::make_address("127.0.0.1"), port});
    FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, "peer-" + std::to_string(i));
    asio::write(*s, asio::buffer(hello->bytes().data(), hello->bytes().size()));
    sockets.push_back(std::move(s));
  }
  char byte;
  boost::system::error_code ec;
  sockets[2]->read_some(asio::buffer(&byte, 1), ec);  // the listener's close
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  const absl::Time deadline = absl::Now() + kDeadline;
  while ((hellos < 2 || (*listener)->refused() < 1) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(hellos, 2);
  EXPECT_EQ((*listener)->refused(), 1u);

  // Closing one makes room again.
  sockets[0]->close();
  bool admitted = false;
  for (int attempt = 0; attempt < 100 && !admitted; ++attempt) {
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, "peer-again");
    asio::write(s, asio::buffer(hello->bytes().data(), hello->bytes().size()));
    const absl::Time until = absl::Now() + absl::Milliseconds(200);
    while (hellos < 3 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
    admitted = hellos == 3;
    if (admitted) sockets.push_back(std::make_unique<asio::ip::tcp::socket>(std::move(s)));
  }
  EXPECT_TRUE(admitted);

  asio::post(io, [&] { (*listener)->Close(); });
  work.reset();
  asio::post(io, [&] { io.stop(); });
  thread.join();
}

}  // namespace
}  // namespace canopy::wire
