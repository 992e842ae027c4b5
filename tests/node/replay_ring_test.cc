#include "node/replay_ring.h"

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

wire::FramePtr Data(uint64_t seq) {
  return wire::Frame::Make(wire::FrameType::kData, 1, 1, seq, std::string(100, 'x'));
}

TEST(ReplayRingTest, ServesConsecutiveRunsAndKnowsWhatItLacks) {
  ReplayRing ring;
  for (uint64_t s : {5, 6, 7, 9, 10}) EXPECT_GT(ring.Add(Data(s)), 0u);
  EXPECT_EQ(ring.Add(Data(6)), 0u);  // already held
  EXPECT_EQ(ring.frames(), 5u);
  EXPECT_EQ(ring.oldest(), 5u);

  auto run = ring.Consecutive(5, 0);
  ASSERT_EQ(run.size(), 3u);  // stops at the hole before 9
  EXPECT_EQ(run.back()->header().sequence, 7u);
  EXPECT_EQ(ring.Consecutive(9, 9).size(), 1u);  // bounded by `last`
  EXPECT_TRUE(ring.Consecutive(8, 0).empty());
  EXPECT_EQ(ring.NextHeld(8), 9u);
  EXPECT_EQ(ring.NextHeld(11), std::nullopt);

  // Older frames fetched from upstream slot in before the oldest.
  ring.Add(Data(4));
  EXPECT_EQ(ring.oldest(), 4u);
  EXPECT_EQ(ring.Consecutive(4, 0).size(), 4u);
}

TEST(ReplayRingTest, EvictsOldestFirstAndCountsBytes) {
  ReplayRing ring;
  size_t total = 0;
  for (uint64_t s = 1; s <= 4; ++s) total += ring.Add(Data(s));
  EXPECT_EQ(ring.bytes(), total);
  const size_t one = ring.EvictOldest();
  EXPECT_EQ(ring.bytes(), total - one);
  EXPECT_EQ(ring.oldest(), 2u);
  EXPECT_EQ(ring.Get(1), nullptr);
  EXPECT_EQ(ring.Clear(), total - one);
  EXPECT_EQ(ring.bytes(), 0u);
  EXPECT_EQ(ring.EvictOldest(), 0u);
  EXPECT_EQ(ring.oldest(), std::nullopt);
}

}  // namespace
}  // namespace canopy::node
