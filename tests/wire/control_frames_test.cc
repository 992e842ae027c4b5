#include "wire/control_frames.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy::wire {
namespace {

FramePtr Reparse(const FramePtr& f) {
  absl::StatusOr<FramePtr> again = Frame::Adopt(std::string(f->bytes()), kDefaultMaxPayload);
  EXPECT_TRUE(again.ok()) << again.status();
  return again.ok() ? *again : nullptr;
}

TEST(ControlFramesTest, ResumeAndGapSurviveTheWire) {
  absl::StatusOr<ResumeRequest> r = ParseResume(*Reparse(MakeResume({7, 9, 100, 250})));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->group_handle, 7u);
  EXPECT_EQ(r->source_id, 9u);
  EXPECT_EQ(r->after, 100u);
  EXPECT_EQ(r->until, 250u);

  absl::StatusOr<GapNotice> g = ParseGap(*Reparse(MakeGap({7, 9, 101, 180})));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->first, 101u);
  EXPECT_EQ(g->next, 180u);

  absl::StatusOr<uint64_t> pong = ParsePong(*Reparse(MakePong(*MakePing(42))));
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(*pong, 42u);
}

TEST(ControlFramesTest, MalformedControlFramesAreRefused) {
  EXPECT_FALSE(ParseResume(*MakeGap({1, 1, 5, 9})).ok());  // wrong type
  EXPECT_FALSE(ParseResume(*MakeResume({1, 1, 10, 10})).ok());  // asks for nothing
  EXPECT_FALSE(ParseGap(*MakeGap({1, 1, 9, 9})).ok());  // empty range
  EXPECT_FALSE(ParseGap(*MakeGap({1, 1, 0, 9})).ok());  // sequence 0 never exists
  EXPECT_FALSE(ParseGap(*Frame::Make(FrameType::kGap, 1, 1, 5, "short")).ok());
  EXPECT_FALSE(ParsePong(*MakePing(1)).ok());
}

TEST(ControlFramesTest, OversizedControlFrameIsRejectedByTheHeader) {
  std::string bytes(Frame::Make(FrameType::kPong, 0, 0, 0, std::string(65, 'p'))->bytes());
  absl::StatusOr<FrameHeader> h = DecodeHeader(bytes, kDefaultMaxPayload);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("control frame"), absl::string_view::npos) << h.status();
}

}  // namespace
}  // namespace canopy::wire
