#include "node/forwarding_state.h"

#include <string>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

v1::ForwardingTable Table(uint64_t version, const std::string& source, uint32_t id) {
  v1::ForwardingTable t;
  t.set_version(version);
  v1::FlowEntry* e = t.add_flows();
  e->set_group("g");
  e->set_source(source);
  e->set_group_handle(5);
  e->set_source_id(id);
  e->set_parent("up");
  return t;
}

TEST(ForwardingStateTest, LooksUpByNamesAndIds) {
  ForwardingState state;
  state.ApplyTable(Table(1, "s", 9), kT0);
  ASSERT_TRUE(state.Find("g", "s").has_value());
  EXPECT_EQ(state.Find("g", "s")->parent(), "up");
  ASSERT_TRUE(state.FindByIds(5, 9).has_value());
  EXPECT_EQ(state.FindByIds(5, 9)->source(), "s");
  EXPECT_FALSE(state.FindByIds(5, 8).has_value());
  EXPECT_EQ(state.version(), 1u);
}

TEST(ForwardingStateTest, IgnoresAnOlderTable) {
  ForwardingState state;
  state.ApplyTable(Table(3, "new", 2), kT0);
  state.ApplyTable(Table(2, "old", 1), kT0);
  EXPECT_TRUE(state.Find("g", "new").has_value());
  EXPECT_FALSE(state.Find("g", "old").has_value());
}

TEST(ForwardingStateTest, NewSessionAcceptsItsFirstTableWhateverTheVersion) {
  ForwardingState state;
  state.ApplyTable(Table(40, "old-session", 1), kT0);
  state.ResetVersion();  // a restarted controller counts from 1 again
  EXPECT_TRUE(state.Find("g", "old-session").has_value());  // kept until then
  state.ApplyTable(Table(2, "new-session", 2), kT0);
  EXPECT_TRUE(state.Find("g", "new-session").has_value());
  EXPECT_FALSE(state.Find("g", "old-session").has_value());
}

TEST(ForwardingStateTest, FailsClosedUntilTheControllerSentPolicies) {
  ForwardingState state;
  absl::Status unknown = state.CheckAllowed("g", "anyone");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(unknown.message().find("no policy for group 'g' from the controller yet"),
            absl::string_view::npos)
      << unknown;
  EXPECT_FALSE(state.has_policies());
  state.ApplyPolicies(v1::PolicyUpdate());  // no allow-lists anywhere
  EXPECT_TRUE(state.has_policies());
  EXPECT_TRUE(state.CheckAllowed("g", "anyone").ok());
  // A new controller session keeps the policies in force until it sends its own.
  state.ResetVersion();
  EXPECT_TRUE(state.CheckAllowed("g", "anyone").ok());
}

TEST(ForwardingStateTest, CutOffsComeWithTheTable) {
  ForwardingState state;
  v1::ForwardingTable table = Table(1, "s", 1);
  v1::CutOffSource* cut = table.add_cut_off();
  cut->set_group("g");
  cut->set_source("far");
  cut->set_reason("no overlay path from x");
  state.ApplyTable(table, kT0);
  const auto cut_offs = state.CutOffs();
  ASSERT_EQ(cut_offs.size(), 1u);
  EXPECT_EQ(cut_offs.begin()->first, std::make_pair(std::string("g"), std::string("far")));
  state.ApplyTable(Table(2, "s", 1), kT0);
  EXPECT_TRUE(state.CutOffs().empty());
}

TEST(ForwardingStateTest, AllowListAndRejections) {
  ForwardingState state;
  state.ApplyPolicies(v1::PolicyUpdate());
  EXPECT_TRUE(state.CheckAllowed("g", "anyone").ok());
  v1::PolicyUpdate update;
  v1::GroupPolicy* p = update.add_policies();
  p->set_group("g");
  p->add_allowed_sources("trainer");
  state.ApplyPolicies(update);
  EXPECT_TRUE(state.CheckAllowed("g", "trainer").ok());
  absl::Status denied = state.CheckAllowed("g", "intruder");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("intruder"), absl::string_view::npos);
  EXPECT_TRUE(state.CheckAllowed("other-group", "intruder").ok());

  v1::SourceRejected rejected;
  rejected.mutable_key()->set_group("h");
  rejected.mutable_key()->set_source("dup");
  rejected.set_reason("already publishes elsewhere");
  state.RecordRejection(rejected);
  EXPECT_EQ(state.CheckAllowed("h", "dup").message(), "already publishes elsewhere");
  EXPECT_EQ(state.AwaitFlow("h", "dup", absl::ZeroDuration()),
            ForwardingState::FlowReadiness::kRejected);
  state.ClearRejection("h", "dup");
  EXPECT_TRUE(state.CheckAllowed("h", "dup").ok());
}

TEST(ForwardingStateTest, AwaitFlowSeesTheTableOrTimesOut) {
  ForwardingState state;
  EXPECT_EQ(state.AwaitFlow("g", "s", absl::ZeroDuration()),
            ForwardingState::FlowReadiness::kTimedOut);
  state.ApplyTable(Table(1, "s", 1), kT0);
  EXPECT_EQ(state.AwaitFlow("g", "s", absl::ZeroDuration()),
            ForwardingState::FlowReadiness::kReady);
}

TEST(ForwardingStateTest, WatchersFireWhenTheFlowArrivesOrExpire) {
  ForwardingState state;
  const absl::Time t0 = kT0;
  int known = 0, unknown = 0;
  state.WhenFlowKnown(5, 9, t0 + absl::Seconds(5), [&](bool k) { (k ? known : unknown)++; });
  state.WhenFlowKnown(5, 7, t0 + absl::Seconds(5), [&](bool k) { (k ? known : unknown)++; });
  state.ApplyTable(Table(1, "s", 9), kT0);
  EXPECT_EQ(known, 1);
  state.Expire(t0 + absl::Seconds(1));
  EXPECT_EQ(unknown, 0);
  state.Expire(t0 + absl::Seconds(6));
  EXPECT_EQ(unknown, 1);
  // Already known: runs at once.
  state.WhenFlowKnown(5, 9, t0, [&](bool k) { (k ? known : unknown)++; });
  EXPECT_EQ(known, 2);
}

TEST(ForwardingStateTest, RetiredFlowsStayFoundForTheGracePeriod) {
  ForwardingState state;
  state.ApplyTable(Table(1, "s", 9), kT0);
  v1::ForwardingTable empty;
  empty.set_version(2);
  state.ApplyTable(empty, kT0 + absl::Seconds(1));
  EXPECT_FALSE(state.Find("g", "s").has_value());
  ASSERT_TRUE(state.FindByIds(5, 9).has_value());  // frames in flight still route
  EXPECT_EQ(state.RetiredEntries().size(), 1u);
  state.Expire(kT0 + absl::Seconds(1) + ForwardingState::kRetiredFlowGrace);
  EXPECT_FALSE(state.FindByIds(5, 9).has_value());
  EXPECT_TRUE(state.RetiredEntries().empty());
}

}  // namespace
}  // namespace canopy::node
