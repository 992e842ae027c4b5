#include "node/multicast_datagram.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

// The datagrams a sender makes of `frame` with `datagram_bytes`.
std::vector<std::string> Cut(const wire::Frame& frame, size_t datagram_bytes) {
  std::vector<std::string> out;
  const uint32_t n = FragmentCount(frame.bytes().size(), datagram_bytes);
  const size_t slice = SliceBytes(datagram_bytes);
  for (uint32_t i = 0; i < n; ++i) {
    auto h = DatagramHeader(frame.header(), i, n);
    std::string d(h.data(), h.size());
    d += std::string(frame.bytes().substr(static_cast<size_t>(i) * slice, slice));
    EXPECT_LE(d.size(), datagram_bytes);
    out.push_back(std::move(d));
  }
  return out;
}

wire::FramePtr Data(uint64_t seq, size_t payload_bytes) {
  std::string payload(payload_bytes, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + seq);
  return wire::Frame::Make(wire::FrameType::kData, 3, 9, seq, payload);
}

TEST(MulticastDatagramTest, FramesComeBackWholeInAnyDatagramOrder) {
  const absl::Time now = absl::FromUnixSeconds(100);
  FrameReassembler r(wire::kDefaultMaxPayload, absl::Seconds(2), 1 << 20);
  for (size_t payload : {0u, 1u, 1000u, 1368u, 1369u, 5000u, 100000u}) {
    wire::FramePtr f = Data(payload + 1, payload);
    std::vector<std::string> parts = Cut(*f, 1400);
    EXPECT_EQ(parts.size(), FragmentCount(f->bytes().size(), 1400));
    std::shuffle(parts.begin(), parts.end(), std::mt19937(static_cast<uint32_t>(payload)));
    wire::FramePtr got;
    for (size_t i = 0; i < parts.size(); ++i) {
      absl::StatusOr<wire::FramePtr> out = r.Add(parts[i], now);
      ASSERT_TRUE(out.ok()) << out.status();
      if (i + 1 < parts.size()) {
        EXPECT_EQ(*out, nullptr);
      } else {
        got = *out;
      }
    }
    ASSERT_NE(got, nullptr) << payload;
    EXPECT_EQ(got->bytes(), f->bytes());
    EXPECT_EQ(got->header().sequence, payload + 1);
  }
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(MulticastDatagramTest, ALostFragmentLeavesNoFrameAndIsForgottenInTime) {
  absl::Time now = absl::FromUnixSeconds(100);
  FrameReassembler r(wire::kDefaultMaxPayload, absl::Seconds(2), 1 << 20);
  std::vector<std::string> parts = Cut(*Data(1, 4000), 1400);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(*r.Add(parts[0], now), nullptr);
  EXPECT_EQ(*r.Add(parts[0], now), nullptr);  // a duplicate changes nothing
  EXPECT_EQ(*r.Add(parts[2], now), nullptr);
  EXPECT_GT(r.pending_bytes(), 0u);
  now += absl::Seconds(3);
  // Any later datagram sweeps out the stale frame.
  ASSERT_NE(*r.Add(Cut(*Data(2, 10), 1400)[0], now), nullptr);
  EXPECT_EQ(r.pending_bytes(), 0u);
  EXPECT_EQ(r.abandoned(), 1u);
}

TEST(MulticastDatagramTest, MalformedDatagramsAreRefusedWithoutHarm) {
  const absl::Time now = absl::FromUnixSeconds(100);
  FrameReassembler r(1 << 16, absl::Seconds(2), 1 << 20);
  EXPECT_FALSE(r.Add("", now).ok());
  EXPECT_FALSE(r.Add(std::string(24, 'x'), now).ok());
  EXPECT_FALSE(r.Add(std::string(100, 'x'), now).ok());  // no magic
  std::string d = Cut(*Data(1, 10), 1400)[0];
  d[23] = 0;  // fragment count 0
  EXPECT_FALSE(r.Add(d, now).ok());
  // A damaged byte: the frame's checksum catches it.
  std::string bad = Cut(*Data(1, 100), 1400)[0];
  bad.back() ^= 1;
  EXPECT_EQ(r.Add(bad, now).status().code(), absl::StatusCode::kDataLoss);
  // A frame claiming more fragments than the payload limit allows is
  // refused before anything is held.
  auto h = DatagramHeader(Data(5, 10)->header(), 0, 60000);
  EXPECT_FALSE(r.Add(std::string(h.data(), h.size()) + std::string(1376, 'y'), now).ok());
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(MulticastDatagramTest, PendingBytesStayBounded) {
  const absl::Time now = absl::FromUnixSeconds(100);
  FrameReassembler r(wire::kDefaultMaxPayload, absl::Seconds(2), 10000);
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    std::vector<std::string> parts = Cut(*Data(seq, 4000), 1400);
    ASSERT_TRUE(r.Add(parts[0], now).ok());  // never completed
    EXPECT_LE(r.pending_bytes(), 10000u);
  }
  EXPECT_GT(r.abandoned(), 0u);
}

}  // namespace
}  // namespace canopy::node
