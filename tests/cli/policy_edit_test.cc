#include "cli/policy_edit.h"

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// PolicyFlags with one or more flags set, e.g. With({{"ttl", "16"}}).
PolicyFlags With(std::initializer_list<std::pair<std::string, std::string>> flags) {
  PolicyFlags f;
  for (const auto& [name, value] : flags) {
    if (name == "allow") f.allow = value;
    if (name == "profile") f.profile = value;
    if (name == "ttl") f.ttl = value;
    if (name == "slow") f.slow = value;
  }
  return f;
}

v1::GroupPolicy Existing() {
  v1::GroupPolicy p;
  p.set_group("g");
  p.add_allowed_sources("old");
  p.set_profile(v1::TREE_PROFILE_COST);
  p.set_ttl(8);
  p.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
  return p;
}

TEST(PolicyEditTest, OnlyTheGivenFlagsChange) {
  absl::StatusOr<PolicyEdit> edit = ParsePolicyFlags(With({{"ttl", "16"}}));
  ASSERT_TRUE(edit.ok()) << edit.status();
  v1::GroupPolicy p = Existing();
  ApplyPolicyEdit(*edit, p);
  EXPECT_EQ(p.group(), "g");
  EXPECT_THAT(p.allowed_sources(), ElementsAre("old"));
  EXPECT_EQ(p.profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ(p.ttl(), 16u);
  EXPECT_EQ(p.slow_receiver(), v1::SLOW_RECEIVER_REALTIME);
}

TEST(PolicyEditTest, EveryFlag) {
  absl::StatusOr<PolicyEdit> edit = ParsePolicyFlags(
      With({{"allow", " a, b ,a,c"}, {"profile", "bulk"}, {"ttl", "255"}, {"slow", "reliable"}}));
  ASSERT_TRUE(edit.ok()) << edit.status();
  v1::GroupPolicy p = Existing();
  ApplyPolicyEdit(*edit, p);
  EXPECT_THAT(p.allowed_sources(), ElementsAre("a", "b", "c"));
  EXPECT_EQ(p.profile(), v1::TREE_PROFILE_BULK);
  EXPECT_EQ(p.ttl(), 255u);
  EXPECT_EQ(p.slow_receiver(), v1::SLOW_RECEIVER_RELIABLE);
}

TEST(PolicyEditTest, EmptyAllowClearsTheList) {
  for (const char* blank : {"", " "}) {
    absl::StatusOr<PolicyEdit> edit = ParsePolicyFlags(With({{"allow", blank}}));
    ASSERT_TRUE(edit.ok()) << edit.status();
    v1::GroupPolicy p = Existing();
    ApplyPolicyEdit(*edit, p);
    EXPECT_TRUE(p.allowed_sources().empty());
    EXPECT_EQ(p.ttl(), 8u);
  }
}

TEST(PolicyEditTest, BadFlagsAreRejectedWithTheFlagsName) {
  struct Case {
    PolicyFlags flags;
    const char* message;
  };
  const Case cases[] = {
      {PolicyFlags{}, "at least one of"},
      {With({{"ttl", "0"}}), "--ttl"},
      {With({{"ttl", "256"}}), "--ttl"},
      {With({{"ttl", "300"}}), "1 to 255"},
      {With({{"ttl", "-1"}}), "--ttl"},
      {With({{"ttl", "ten"}}), "--ttl"},
      {With({{"ttl", ""}}), "--ttl"},
      {With({{"profile", "fast"}}), "latency, cost or bulk"},
      {With({{"profile", "LATENCY"}}), "--profile"},
      {With({{"slow", "lossy"}}), "reliable or realtime"},
      {With({{"allow", "ok,bad source"}}), "--allow"},
      {With({{"allow", std::string(65, 'x')}}), "--allow"},
      {With({{"allow", ",,,"}}), "empty entry"},
      {With({{"allow", "a,,b"}}), "--allow"},
      {With({{"allow", "a, "}}), "--allow"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<PolicyEdit> edit = ParsePolicyFlags(c.flags);
    ASSERT_FALSE(edit.ok()) << c.message;
    EXPECT_EQ(edit.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(edit.status().message(), HasSubstr(c.message));
    EXPECT_THAT(edit.status().message(), ::testing::Not(HasSubstr("\n")));
  }
}

TEST(PolicyEditTest, TooManyAllowedSources) {
  std::string allow = "s0";
  for (int i = 1; i < 1025; ++i) absl::StrAppend(&allow, ",s", i);
  absl::StatusOr<PolicyEdit> edit = ParsePolicyFlags(With({{"allow", allow}}));
  ASSERT_FALSE(edit.ok());
  EXPECT_THAT(edit.status().message(), HasSubstr("at most 1024"));
}

}  // namespace
}  // namespace canopy::cli
