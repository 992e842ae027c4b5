// FlowRepair on fake links and virtual time: resends come from the ring,
// what the ring lacks is asked of the parent, and only what nobody holds
// is declared lost — after the repair timeout, not before.

#include "node/flow_repair.h"

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/node/fakes.h"

namespace canopy::node {
namespace {

using testing::FakeLink;
using testing::ManualScheduler;

wire::FramePtr Data(uint64_t seq) {
  return wire::Frame::Make(wire::FrameType::kData, 1, 1, seq, "payload");
}

std::vector<uint64_t> DataSequences(const FakeLink& link) {
  std::vector<uint64_t> out;
  for (const auto& f : link.sent()) {
    if (f->header().type == wire::FrameType::kData) out.push_back(f->header().sequence);
  }
  return out;
}

std::vector<wire::ResumeRequest> Resumes(const FakeLink& link) {
  std::vector<wire::ResumeRequest> out;
  for (const auto& f : link.sent()) {
    if (auto r = wire::ParseResume(*f); r.ok()) out.push_back(*r);
  }
  return out;
}

std::vector<wire::GapNotice> Gaps(const FakeLink& link) {
  std::vector<wire::GapNotice> out;
  for (const auto& f : link.sent()) {
    if (auto g = wire::ParseGap(*f); g.ok()) out.push_back(*g);
  }
  return out;
}

class FlowRepairTest : public ::testing::Test {
 protected:
  FlowRepairTest() : repair_(FlowRepairOptions{}, scheduler_, parents_, budget_, tally_) {
    route_.entry.set_group("g");
    route_.entry.set_source("s");
    route_.entry.set_group_handle(1);
    route_.entry.set_source_id(1);
    route_.entry.set_parent("p");
    route_.entry.set_parent_token("token-of-p");
    route_.names = std::make_shared<const FlowNames>(FlowNames{"g", "s"});
    route_.state = std::make_shared<FlowState>();
    auto slot = std::make_shared<ChildSlot>("c");
    slot->set_link(child_);
    route_.children.push_back(FlowRoute::Child{slot, false});
    parents_.Register("p", "token-of-p", parent_);
  }
  // The flow had `first`..`last`, of which the ring still holds `held_from`..
  void Had(uint64_t last, uint64_t held_from) {
    absl::MutexLock lock(&route_.state->mu);
    for (uint64_t s = held_from; s <= last; ++s) route_.state->ring.Add(Data(s));
    route_.state->last = last;
  }
  FlowState& flow() { return *route_.state; }

  ManualScheduler scheduler_;
  ParentLinks parents_;
  ReplayBudget budget_{64u << 20};
  RelayTally tally_;
  FlowRepair repair_;
  FlowRoute route_;
  std::shared_ptr<FakeLink> parent_ = std::make_shared<FakeLink>("p");
  std::shared_ptr<FakeLink> child_ = std::make_shared<FakeLink>("c");
};

TEST_F(FlowRepairTest, ResumeIsServedFromTheRing) {
  Had(10, 1);
  absl::MutexLock lock(&flow().mu);
  repair_.ServeResume(route_, flow(), RepairTarget{child_, nullptr, nullptr}, 5, 0);
  EXPECT_THAT(DataSequences(*child_), ::testing::ElementsAre(6, 7, 8, 9, 10));
  EXPECT_TRUE(Resumes(*parent_).empty());
  EXPECT_TRUE(flow().repairs.empty());  // caught up with the live flow
}

TEST_F(FlowRepairTest, WhatTheRingLacksIsAskedOfTheParentThenDeclaredLost) {
  Had(10, 8);  // 1..7 evicted
  {
    absl::MutexLock lock(&flow().mu);
    repair_.ServeResume(route_, flow(), RepairTarget{child_, nullptr, nullptr}, 2, 0);
  }
  EXPECT_TRUE(DataSequences(*child_).empty());
  ASSERT_EQ(Resumes(*parent_).size(), 1u);
  EXPECT_EQ(Resumes(*parent_)[0].after, 2u);
  EXPECT_EQ(Resumes(*parent_)[0].until, 7u);
  // The parent sends 3 back; the rest never comes.
  {
    absl::MutexLock lock(&flow().mu);
    EXPECT_TRUE(repair_.TakeOldFrame(route_, flow(), Data(3)));
    EXPECT_FALSE(repair_.TakeOldFrame(route_, flow(), Data(9)));  // held: a duplicate
  }
  EXPECT_THAT(DataSequences(*child_), ::testing::ElementsAre(3));
  // Nothing is declared lost before the repair timeout.
  scheduler_.Advance(absl::Milliseconds(1999));
  {
    absl::MutexLock lock(&flow().mu);
    repair_.Expire(route_, flow());
  }
  EXPECT_TRUE(Gaps(*child_).empty());
  scheduler_.Advance(absl::Milliseconds(1));
  {
    absl::MutexLock lock(&flow().mu);
    repair_.Expire(route_, flow());
  }
  ASSERT_EQ(Gaps(*child_).size(), 1u);
  EXPECT_EQ(Gaps(*child_)[0].first, 4u);
  EXPECT_EQ(Gaps(*child_)[0].next, 8u);
  EXPECT_THAT(DataSequences(*child_), ::testing::ElementsAre(3, 8, 9, 10));
  EXPECT_EQ(tally_.Read().sequences_lost, 4u);
}

TEST_F(FlowRepairTest, AtTheIngressAMissingRangeIsLostAtOnce) {
  route_.entry.clear_parent();
  Had(10, 6);
  absl::MutexLock lock(&flow().mu);
  repair_.ServeResume(route_, flow(), RepairTarget{child_, nullptr, nullptr}, 0, 0);
  ASSERT_EQ(Gaps(*child_).size(), 1u);
  EXPECT_EQ(Gaps(*child_)[0].first, 1u);
  EXPECT_EQ(Gaps(*child_)[0].next, 6u);
  EXPECT_THAT(DataSequences(*child_), ::testing::ElementsAre(6, 7, 8, 9, 10));
}

TEST_F(FlowRepairTest, AGapIsAskedAgainOnlyAfterTheRetryDelay) {
  Had(5, 1);
  absl::MutexLock lock(&flow().mu);
  EXPECT_TRUE(repair_.AskAfterGap(route_, flow(), *parent_));
  EXPECT_FALSE(repair_.AskAfterGap(route_, flow(), *parent_));
  scheduler_.Advance(absl::Seconds(1));
  EXPECT_TRUE(repair_.AskAfterGap(route_, flow(), *parent_));
  ASSERT_EQ(Resumes(*parent_).size(), 2u);
  EXPECT_EQ(Resumes(*parent_)[1].after, 5u);
  EXPECT_EQ(Resumes(*parent_)[1].until, 0u);
}

TEST_F(FlowRepairTest, AFlowNeverSeenIsAskedForFromItsStart) {
  {
    absl::MutexLock lock(&flow().mu);
    repair_.ResumeFromParent(route_, flow(), *parent_);
  }
  ASSERT_EQ(Resumes(*parent_).size(), 1u);
  EXPECT_EQ(Resumes(*parent_)[0].after, 0u);
  // A realtime flow that has had nothing has nothing to resume.
  route_.realtime = true;
  FlowState fresh;
  absl::MutexLock lock(&fresh.mu);
  repair_.ResumeFromParent(route_, fresh, *parent_);
  EXPECT_EQ(Resumes(*parent_).size(), 1u);
}

TEST_F(FlowRepairTest, GapFromTheParentIsSkippedAndPassedOn) {
  Had(5, 1);
  const wire::FramePtr gap = wire::MakeGap({1, 1, 6, 9});
  absl::MutexLock lock(&flow().mu);
  repair_.OnGap(route_, flow(), *wire::ParseGap(*gap), gap);
  EXPECT_EQ(flow().last, 8u);
  ASSERT_EQ(Gaps(*child_).size(), 1u);
  EXPECT_EQ(tally_.Read().sequences_lost, 3u);
  // A gap further ahead changes nothing here.
  const wire::FramePtr later = wire::MakeGap({1, 1, 20, 30});
  repair_.OnGap(route_, flow(), *wire::ParseGap(*later), later);
  EXPECT_EQ(flow().last, 8u);
}

}  // namespace
}  // namespace canopy::node
