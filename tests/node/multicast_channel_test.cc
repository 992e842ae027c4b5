#include "node/multicast_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "node/multicast_datagram.h"
#include "wire/frame.h"

namespace canopy::node {
namespace {

TEST(ParseMulticastAddressTest, AcceptsOnlyClassDAddressesWithAPort) {
  EXPECT_TRUE(ParseMulticastAddress("239.1.2.3:5000").ok());
  EXPECT_EQ(ParseMulticastAddress("10.0.0.1:5000").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMulticastAddress("239.1.2.3:0").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMulticastAddress("239.1.2.3").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMulticastAddress("not an address:1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

MulticastChannelOptions On(const std::string& interface_address, size_t datagram_bytes = 1400) {
  MulticastChannelOptions options;
  options.interface_address = interface_address;
  options.datagram_bytes = datagram_bytes;
  return options;
}

TEST(MulticastChannelTest, StartSaysWhyMulticastCannotBeUsed) {
  MulticastChannel loopback(On("127.0.0.1"));
  EXPECT_EQ(loopback.Start().code(), absl::StatusCode::kUnavailable);
  MulticastChannel no_ipv4(On("::1"));
  EXPECT_EQ(no_ipv4.Start().code(), absl::StatusCode::kUnavailable);
  MulticastChannel tiny(On("10.0.0.1", kMinDatagramBytes - 1));
  EXPECT_EQ(tiny.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MulticastChannelTest, SendingBeforeStartIsRefusedNotCrashed) {
  MulticastChannel channel(On("127.0.0.1"));
  const wire::FramePtr frame = wire::Frame::Make(wire::FrameType::kData, 1, 1, 1, "x");
  EXPECT_EQ(channel.Send("239.1.2.3:5000", 1, *frame).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(channel.Send("10.1.2.3:5000", 1, *frame).code(), absl::StatusCode::kInvalidArgument);
}

// The receive socket of a joined group listens on the group's port, where
// anyone can send it datagrams. A test on loopback sends it unicast ones:
// garbage is counted and dropped, a well-formed frame is delivered.
class MulticastReceiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int probe = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(any);
    ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
    ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&any), &len), 0);
    port_ = ntohs(any.sin_port);
    close(probe);
    MulticastChannelOptions options = On("127.0.0.1");
    options.on_frame = [this](wire::FramePtr frame, const std::string& sender) {
      absl::MutexLock lock(&mu_);
      received_.push_back(std::move(frame));
      senders_.push_back(sender);
    };
    channel_ = std::make_unique<MulticastChannel>(options);
    const absl::Status joined = channel_->Join("239.255.42.1:" + std::to_string(port_));
    if (!joined.ok()) GTEST_SKIP() << "cannot join a group on loopback here: " << joined;
    sender_ = socket(AF_INET, SOCK_DGRAM, 0);
  }
  void TearDown() override {
    if (sender_ >= 0) close(sender_);
    if (channel_) channel_->Stop();
  }

  void SendDatagram(const std::string& bytes) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(sendto(sender_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
              static_cast<ssize_t>(bytes.size()));
  }

  bool AwaitCounters(const std::function<bool(const MulticastChannelCounters&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (done(channel_->counters())) return true;
      absl::SleepFor(absl::Milliseconds(5));  // poll interval, bounded by the deadline
    }
    return false;
  }

  uint16_t port_ = 0;
  int sender_ = -1;
  std::unique_ptr<MulticastChannel> channel_;
  absl::Mutex mu_;
  std::vector<wire::FramePtr> received_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> senders_ ABSL_GUARDED_BY(mu_);
};

TEST_F(MulticastReceiveTest, GarbageIsCountedAndAWellFormedFrameStillArrives) {
  SendDatagram("not a canopy datagram");
  SendDatagram(std::string(kDatagramHeaderBytes, '\xff'));
  ASSERT_TRUE(AwaitCounters([](const auto& c) { return c.datagrams_malformed >= 2; }));

  const wire::FramePtr frame = wire::Frame::Make(wire::FrameType::kData, 7, 3, 42, "payload");
  const std::array<char, kDatagramHeaderBytes> header = DatagramHeader(frame->header(), 0, 1);
  SendDatagram(std::string(header.data(), header.size()) + std::string(frame->bytes()));
  ASSERT_TRUE(AwaitCounters([](const auto& c) { return c.frames_received == 1; }));
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0]->bytes(), frame->bytes());
  EXPECT_EQ(senders_[0], "127.0.0.1");
  EXPECT_EQ(channel_->counters().datagrams_malformed, 2u);
}

TEST_F(MulticastReceiveTest, GroupsOnAnotherPortAreRefusedWhileJoinsAreCounted) {
  const std::string group = "239.255.42.1:" + std::to_string(port_);
  EXPECT_EQ(channel_->Join("239.255.42.2:" + std::to_string(port_ == 65535 ? 1 : port_ + 1)).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(channel_->Join(group).ok());  // a second join of the same group
  channel_->Leave(group);                   // still joined once
  const wire::FramePtr frame = wire::Frame::Make(wire::FrameType::kData, 7, 3, 1, "x");
  const std::array<char, kDatagramHeaderBytes> header = DatagramHeader(frame->header(), 0, 1);
  SendDatagram(std::string(header.data(), header.size()) + std::string(frame->bytes()));
  EXPECT_TRUE(AwaitCounters([](const auto& c) { return c.frames_received == 1; }));
}

}  // namespace
}  // namespace canopy::node
