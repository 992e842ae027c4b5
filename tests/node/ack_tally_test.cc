// AckTally: how one node sums its local receivers' acknowledgements and its
// children's summaries, checked on a three-node chain whose summaries are
// passed up by hand (a → b → c; receivers w1 at b, w2 and w3 at c).

#include "node/ack_tally.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

using wire::AckMissing;
using wire::AckMissingKind;
using wire::AckSummary;

constexpr absl::Duration kDeparted = absl::Seconds(60);
const absl::Time kT0 = absl::FromUnixSeconds(1000);

const AckReceiver kW1{1, "w1"};
const AckReceiver kW2{2, "w2"};
const AckReceiver kW3{3, "w3"};

class Chain : public ::testing::Test {
 protected:
  Chain() : a_("a", 8, kDeparted), b_("b", 8, kDeparted), c_("c", 8, kDeparted) {
    a_.SetChildren({"b"}, kT0);
    b_.SetChildren({"c"}, kT0);
    b_.SetReceivers({kW1}, kT0);
    c_.SetReceivers({kW2, kW3}, kT0);
  }

  // Every node tells its parent how `object_id` stands, leaves first, as
  // the aggregators would after their coalescing delay.
  void PassUp(uint64_t object_id) {
    b_.OnChildSummary("c", c_.Summarize(object_id), kT0);
    a_.OnChildSummary("b", b_.Summarize(object_id), kT0);
  }

  AckTally a_, b_, c_;
};

TEST_F(Chain, SilentChildIsOneMissingNode) {
  const AckSummary s = a_.Summarize(0);
  EXPECT_EQ(s.receivers, 0u);
  EXPECT_EQ(s.missing, 1u);
  ASSERT_EQ(s.names.size(), 1u);
  EXPECT_EQ(s.names[0], (AckMissing{"b", "", AckMissingKind::kSilent}));
  EXPECT_FALSE(a_.Complete(0));
}

TEST_F(Chain, RosterCountsEveryReceiverBelow) {
  PassUp(0);
  const AckSummary s = a_.Summarize(0);
  EXPECT_EQ(s.receivers, 3u);
  EXPECT_EQ(s.acked, 0u);
  EXPECT_EQ(s.missing, 3u);
  EXPECT_TRUE(a_.Complete(0));
  // An object nobody has spoken of yet stands as the rosters say.
  const AckSummary o = a_.Summarize(42);
  EXPECT_EQ(o.receivers, 3u);
  EXPECT_EQ(o.acked, 0u);
  EXPECT_EQ(o.missing, 3u);
}

TEST_F(Chain, AcknowledgementsAddUpAlongTheChain) {
  PassUp(0);
  EXPECT_TRUE(b_.Ack(kW1, 42, kT0));
  EXPECT_FALSE(b_.Ack(kW1, 42, kT0)) << "a repeated ACK changes nothing";
  EXPECT_TRUE(c_.Ack(kW2, 42, kT0));
  PassUp(42);
  AckSummary s = a_.Summarize(42);
  EXPECT_EQ(s.receivers, 3u);
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.missing, 1u);
  ASSERT_EQ(s.names.size(), 1u);
  EXPECT_EQ(s.names[0], (AckMissing{"c", "w3", AckMissingKind::kPending}));
  EXPECT_FALSE(a_.Complete(42));

  EXPECT_TRUE(c_.Ack(kW3, 42, kT0));
  EXPECT_TRUE(c_.Complete(42));
  PassUp(42);
  s = a_.Summarize(42);
  EXPECT_EQ(s.acked, 3u);
  EXPECT_EQ(s.missing, 0u);
  EXPECT_TRUE(s.names.empty());
  EXPECT_TRUE(a_.Complete(42));
  // Other objects are counted apart.
  EXPECT_EQ(a_.Summarize(43).acked, 0u);
}

TEST_F(Chain, ReceiverThatLeavesWithoutTheObjectIsNamedLeftUntilForgotten) {
  PassUp(0);
  c_.Ack(kW2, 42, kT0);
  EXPECT_TRUE(c_.SetReceivers({kW2}, kT0 + absl::Seconds(1)));
  PassUp(42);
  AckSummary s = a_.Summarize(42);
  EXPECT_EQ(s.receivers, 2u);
  EXPECT_EQ(s.acked, 1u);
  EXPECT_EQ(s.missing, 2u);  // w1 has not acknowledged, w3 left
  EXPECT_NE(std::find(s.names.begin(), s.names.end(),
                      AckMissing{"c", "w3", AckMissingKind::kLeft}),
            s.names.end());
  EXPECT_FALSE(c_.ForgetIdle(kT0, kT0 + absl::Seconds(30)));
  EXPECT_TRUE(c_.ForgetIdle(kT0, kT0 + absl::Seconds(61)));
  EXPECT_EQ(c_.Summarize(42).missing, 0u);
}

TEST_F(Chain, ReceiverThatHeldTheObjectAndLeftStillCounts) {
  c_.Ack(kW3, 42, kT0);
  c_.SetReceivers({kW2}, kT0);
  const AckSummary s = c_.Summarize(42);
  EXPECT_EQ(s.receivers, 2u);
  EXPECT_EQ(s.acked, 1u);
  EXPECT_EQ(s.missing, 1u);
  ASSERT_EQ(s.names.size(), 1u);
  EXPECT_EQ(s.names[0], (AckMissing{"c", "w2", AckMissingKind::kPending}));
}

TEST_F(Chain, ReceiverBackUnderItsNameIsNoLongerLeft) {
  c_.SetReceivers({kW2}, kT0);
  c_.SetReceivers({kW2, AckReceiver{9, "w3"}}, kT0);
  const AckSummary s = c_.Summarize(42);
  EXPECT_EQ(s.receivers, 2u);
  EXPECT_EQ(s.missing, 2u);
  for (const AckMissing& m : s.names) EXPECT_EQ(m.kind, AckMissingKind::kPending);
}

TEST_F(Chain, ChildThatLeavesTheTreeIsNamedGoneWithItsReceivers) {
  PassUp(0);
  b_.Ack(kW1, 42, kT0);
  EXPECT_TRUE(b_.SetChildren({}, kT0));
  const AckSummary s = b_.Summarize(42);
  EXPECT_EQ(s.receivers, 1u);
  EXPECT_EQ(s.acked, 1u);
  EXPECT_EQ(s.missing, 2u);  // c stood for w2 and w3, named by its last roster
  EXPECT_EQ(s.names, (std::vector<AckMissing>{{"c", "w2", AckMissingKind::kGone},
                                               {"c", "w3", AckMissingKind::kGone}}));
  // Back in the tree: silent again until it speaks.
  EXPECT_TRUE(b_.SetChildren({"c"}, kT0));
  EXPECT_EQ(b_.Summarize(42).names.at(0).kind, AckMissingKind::kSilent);
}

TEST_F(Chain, ChildThatLeavesIsNamedByItsOwnReceiversOnly) {
  // b leaves a's tree; c may live on under another parent, so its
  // receivers are not named missing here.
  PassUp(0);
  EXPECT_TRUE(a_.SetChildren({}, kT0));
  const AckSummary s = a_.Summarize(42);
  EXPECT_EQ(s.missing, 1u);
  EXPECT_EQ(s.names, (std::vector<AckMissing>{{"b", "w1", AckMissingKind::kGone}}));
}

TEST_F(Chain, ChildThatLeavesAfterReportingKeepsWhatItsReceiversHeld) {
  PassUp(0);
  b_.Ack(kW1, 42, kT0);
  c_.Ack(kW2, 42, kT0);
  c_.SetReceivers({kW2}, kT0);  // w3 leaves without it
  PassUp(0);
  PassUp(42);
  EXPECT_TRUE(a_.SetChildren({}, kT0));  // then b (and c below it) leave a's tree
  AckSummary s = a_.Summarize(42);
  EXPECT_EQ(s.receivers, 2u);
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.missing, 1u);
  EXPECT_EQ(s.names, (std::vector<AckMissing>{{"c", "w3", AckMissingKind::kLeft}}));
  // An object b never reported on: b's own receiver and the one that left.
  s = a_.Summarize(43);
  EXPECT_EQ(s.acked, 0u);
  EXPECT_EQ(s.names, (std::vector<AckMissing>{{"b", "w1", AckMissingKind::kGone},
                                               {"c", "w3", AckMissingKind::kLeft}}));
}

TEST_F(Chain, ChildThatLeavesBeforeItsRosterIsNamedAlone) {
  EXPECT_TRUE(b_.SetChildren({}, kT0));
  const AckSummary s = b_.Summarize(42);
  EXPECT_EQ(s.missing, 2u);  // w1 and the node c
  EXPECT_NE(std::find(s.names.begin(), s.names.end(), AckMissing{"c", "", AckMissingKind::kGone}),
            s.names.end());
}

TEST_F(Chain, SummaryFromANonChildIsRefused) {
  AckSummary forged;
  forged.object_id = 42;
  forged.receivers = 1000;
  forged.acked = 1000;
  EXPECT_FALSE(a_.OnChildSummary("c", forged, kT0));
  EXPECT_EQ(a_.Summarize(42).acked, 0u);
}

TEST(AckTally, NamesAreBoundedAndTheRestCounted) {
  AckTally t("n", 8, kDeparted);
  std::vector<AckReceiver> many;
  for (uint64_t i = 1; i <= 40; ++i) many.push_back({i, "w" + std::to_string(i)});
  t.SetReceivers(many, kT0);
  const AckSummary s = t.Summarize(7);
  EXPECT_EQ(s.receivers, 40u);
  EXPECT_EQ(s.missing, 40u);
  EXPECT_EQ(s.names.size(), wire::kMaxAckNames);
}

TEST(AckTally, OldestObjectIsForgottenFirst) {
  AckTally t("n", 2, kDeparted);
  t.SetReceivers({kW1}, kT0);
  t.Ack(kW1, 1, kT0);
  t.Ack(kW1, 2, kT0);
  t.Ack(kW1, 3, kT0);
  EXPECT_EQ(t.Objects(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(t.Summarize(1).acked, 0u);
  EXPECT_EQ(t.Summarize(3).acked, 1u);
  t.ForgetIdle(kT0 + absl::Seconds(1), kT0 + absl::Seconds(1));
  EXPECT_TRUE(t.Objects().empty());
}

}  // namespace
}  // namespace canopy::node
