#include "wire/frame.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy::wire {
namespace {

TEST(FrameTest, RoundTrips) {
  FramePtr f = Frame::Make(FrameType::kData, 7, 9, 42, "payload bytes");
  EXPECT_EQ(f->bytes().size(), kHeaderSize + 13);
  auto back = Frame::Adopt(std::string(f->bytes()), kDefaultMaxPayload);
  ASSERT_TRUE(back.ok()) << back.status();
  const FrameHeader& h = (*back)->header();
  EXPECT_EQ(h.type, FrameType::kData);
  EXPECT_EQ(h.group_handle, 7u);
  EXPECT_EQ(h.source_id, 9u);
  EXPECT_EQ(h.sequence, 42u);
  EXPECT_EQ(h.length, 13u);
  EXPECT_EQ((*back)->payload(), "payload bytes");
}

TEST(FrameTest, HeaderIsBigEndianAsDocumented) {
  FramePtr f = Frame::Make(FrameType::kData, 0x01020304, 0x0A0B0C0D, 0x1122334455667788, "");
  const std::string b(f->bytes());
  EXPECT_EQ(static_cast<uint8_t>(b[0]), 0xCA);
  EXPECT_EQ(static_cast<uint8_t>(b[1]), 0x70);
  EXPECT_EQ(b[2], 1);  // version
  EXPECT_EQ(b[3], 2);  // DATA
  EXPECT_EQ(b.substr(4, 4), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(b.substr(8, 4), std::string("\x0A\x0B\x0C\x0D", 4));
  EXPECT_EQ(b.substr(12, 4), std::string("\0\0\0\0", 4));
  EXPECT_EQ(b.substr(16, 8), std::string("\x11\x22\x33\x44\x55\x66\x77\x88", 8));
}

std::string Corrupt(std::string bytes, size_t at, char value) {
  bytes[at] = value;
  return bytes;
}

TEST(FrameTest, RejectsMalformedFrames) {
  const std::string good(Frame::Make(FrameType::kData, 1, 1, 1, "hello")->bytes());
  struct Case {
    const char* name;
    std::string bytes;
    absl::StatusCode code;
    const char* says;
  } cases[] = {
      {"bad magic", Corrupt(good, 0, 0x00), absl::StatusCode::kInvalidArgument, "magic"},
      {"bad version", Corrupt(good, 2, 9), absl::StatusCode::kInvalidArgument, "version"},
      {"unknown type", Corrupt(good, 3, 77), absl::StatusCode::kInvalidArgument, "type"},
      {"payload flipped", Corrupt(good, kHeaderSize + 1, 'X'), absl::StatusCode::kDataLoss,
       "checksum"},
      {"sequence flipped", Corrupt(good, 20, 5), absl::StatusCode::kDataLoss, "checksum"},
      {"truncated", good.substr(0, good.size() - 1), absl::StatusCode::kInvalidArgument,
       "header says"},
      {"header only part", good.substr(0, 10), absl::StatusCode::kInvalidArgument, "truncated"},
  };
  for (const Case& c : cases) {
    auto r = Frame::Adopt(c.bytes, kDefaultMaxPayload);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status();
    EXPECT_NE(r.status().message().find(c.says), absl::string_view::npos)
        << c.name << ": " << r.status();
  }
}

TEST(FrameTest, RejectsHugeLengthBeforeReadingPayload) {
  std::string header(Frame::Make(FrameType::kData, 1, 1, 1, "")->bytes());
  header[12] = '\x7f';  // length ≈ 2 GiB
  auto h = DecodeHeader(header, kDefaultMaxPayload);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("exceeds the limit"), absl::string_view::npos);
}

TEST(FrameTest, RestampGivesALocalPublishersFrameItsFlowIdentityInPlace) {
  std::string sent(Frame::Make(FrameType::kData, 0, 0, 1, "message")->bytes());
  auto r = Frame::Restamp(FrameBuffer::CopyOf(sent), kDefaultMaxPayload, 5, 6, 77);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->header().group_handle, 5u);
  EXPECT_EQ((*r)->header().source_id, 6u);
  EXPECT_EQ((*r)->header().sequence, 77u);
  EXPECT_EQ((*r)->payload(), "message");
  // The result is an ordinary, valid frame: a child node accepts it.
  auto relayed = Frame::Adopt((*r)->bytes(), kDefaultMaxPayload);
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ((*relayed)->header().checksum, (*r)->header().checksum);
  EXPECT_EQ((*r)->bytes(), Frame::Make(FrameType::kData, 5, 6, 77, "message")->bytes());
}

TEST(FrameTest, RestampRefusesCorruptOversizedAndNonDataFrames) {
  std::string sent(Frame::Make(FrameType::kData, 0, 0, 1, "message")->bytes());
  std::string flipped = Corrupt(sent, kHeaderSize + 2, 'X');
  auto corrupt = Frame::Restamp(FrameBuffer::CopyOf(flipped), kDefaultMaxPayload, 5, 6, 7);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  auto big = Frame::Restamp(FrameBuffer::CopyOf(sent), 3, 5, 6, 7);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  std::string ping(Frame::Make(FrameType::kPing, 0, 0, 0, "12345678")->bytes());
  auto control = Frame::Restamp(FrameBuffer::CopyOf(ping), kDefaultMaxPayload, 5, 6, 7);
  EXPECT_EQ(control.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameTest, EncodeHeaderMatchesMake) {
  const std::string payload(100000, 'p');
  char header[kHeaderSize];
  EncodeHeader(FrameType::kData, 1, 2, 3, payload, header);
  EXPECT_EQ(std::string(header, kHeaderSize) + payload,
            Frame::Make(FrameType::kData, 1, 2, 3, payload)->bytes());
}

}  // namespace
}  // namespace canopy::wire
