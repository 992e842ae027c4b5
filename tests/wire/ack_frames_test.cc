// ACK and ACK_SUMMARY frames: what is encoded decodes to the same, and a
// malformed payload is refused with a clear error, never read past its end.

#include "wire/ack_frames.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy::wire {
namespace {

TEST(AckFrames, AckCarriesTheObjectId) {
  FramePtr f = MakeAck(7, 9, 0x0102030405060708);
  EXPECT_EQ(f->header().type, FrameType::kAck);
  EXPECT_EQ(f->header().group_handle, 7u);
  EXPECT_EQ(f->header().source_id, 9u);
  ASSERT_TRUE(IsControl(f->header().type));
  absl::StatusOr<uint64_t> id = ParseAck(*f);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 0x0102030405060708u);
}

TEST(AckFrames, AckOfObjectZeroOrOfTheWrongSizeIsRefused) {
  EXPECT_FALSE(ParseAck(*MakeAck(1, 1, 0)).ok());
  EXPECT_FALSE(ParseAck(*Frame::Make(FrameType::kAck, 1, 1, 0, "1234567")).ok());
  EXPECT_FALSE(ParseAck(*Frame::Make(FrameType::kResume, 1, 1, 0, "12345678")).ok());
}

TEST(AckFrames, SummaryRoundTrips) {
  AckSummary s;
  s.object_id = 42;
  s.receivers = 1000;
  s.acked = 990;
  s.missing = 11;
  for (int i = 0; i < 16; ++i) {
    const AckMissingKind kind = static_cast<AckMissingKind>(i % 4);
    const bool node_only = kind == AckMissingKind::kSilent;
    s.names.push_back({std::string(64, 'n'), node_only ? std::string() : std::string(64, 'm'), kind});
  }
  s.missing = 16;
  FramePtr f = MakeAckSummary(3, 4, s);
  EXPECT_LE(f->payload().size(), kMaxAckSummaryPayload);
  absl::StatusOr<AckSummary> back = ParseAckSummary(*f);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  // It passes the header checks a parent applies to what a child sends.
  EXPECT_TRUE(DecodeHeader(f->bytes(), kMaxAckSummaryPayload).ok());
}

TEST(AckFrames, MalformedSummariesAreRefused) {
  AckSummary s;
  s.object_id = 1;
  s.receivers = 2;
  s.acked = 1;
  s.missing = 1;
  s.names.push_back({"node-b", "worker"});
  const std::string good(MakeAckSummary(1, 1, s)->payload());
  auto parse = [](const std::string& payload) {
    return ParseAckSummary(*Frame::Make(FrameType::kAckSummary, 1, 1, 0, payload));
  };
  ASSERT_TRUE(parse(good).ok());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(parse(good.substr(0, cut)).ok()) << "truncated at " << cut;
  }
  EXPECT_FALSE(parse(good + "x").ok());
  std::string more_acked = good;
  more_acked[15] = 3;  // acked 3 of 2 receivers
  EXPECT_FALSE(parse(more_acked).ok());
  std::string too_many = good;
  too_many[20] = 17;
  EXPECT_FALSE(parse(too_many).ok());
  std::string fewer_missing = good;
  fewer_missing[19] = 0;  // names one, counts none
  EXPECT_FALSE(parse(fewer_missing).ok());
  std::string empty_node = good;
  empty_node[21] = 0;
  EXPECT_FALSE(parse(empty_node).ok());
  // The kind byte closes the name: unknown kinds, a member of a silent node
  // and a receiver without its member name are refused.
  const size_t kind_at = good.size() - 1;
  std::string unknown_kind = good;
  unknown_kind[kind_at] = 4;
  EXPECT_FALSE(parse(unknown_kind).ok());
  std::string silent_member = good;
  silent_member[kind_at] = static_cast<char>(AckMissingKind::kSilent);
  EXPECT_FALSE(parse(silent_member).ok());
  AckSummary nameless = s;
  nameless.names[0] = {"node-b", "", AckMissingKind::kPending};
  EXPECT_FALSE(parse(std::string(MakeAckSummary(1, 1, nameless)->payload())).ok());
  nameless.names[0].kind = AckMissingKind::kGone;
  EXPECT_TRUE(parse(std::string(MakeAckSummary(1, 1, nameless)->payload())).ok());
}

TEST(AckFrames, OversizedSummaryIsRefusedByTheHeader) {
  FramePtr big =
      Frame::Make(FrameType::kAckSummary, 1, 1, 0, std::string(kMaxAckSummaryPayload + 1, 'x'));
  absl::StatusOr<FrameHeader> h = DecodeHeader(big->bytes(), kDefaultMaxPayload);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("ACK_SUMMARY"), std::string::npos);
}

}  // namespace
}  // namespace canopy::wire
