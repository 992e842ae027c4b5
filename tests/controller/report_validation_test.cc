#include "controller/report_validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::HasSubstr;

TEST(ReportValidationTest, ListsLongerThanTheLimitsAreRefusedWithTheirCount) {
  v1::MembershipReport membership;
  for (int i = 0; i <= kMaxReportedGroups; ++i)
    membership.add_groups()->set_group("g" + std::to_string(i));
  absl::Status s = ValidateMembership(membership);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("10001 groups"));
  membership.mutable_groups()->RemoveLast();
  EXPECT_TRUE(ValidateMembership(membership).ok());

  v1::SourceReport sources;
  for (int i = 0; i <= kMaxReportedSources; ++i) {
    v1::SourceKey* k = sources.add_sources();
    k->set_group("g");
    k->set_source("s" + std::to_string(i));
  }
  EXPECT_THAT(std::string(ValidateSources(sources).message()), HasSubstr("10001 sources"));

  v1::RttReport rtts;
  for (int i = 0; i <= kMaxReportedRtts; ++i) {
    v1::PeerRtt* p = rtts.add_peers();
    p->set_node_id("n" + std::to_string(i));
    p->set_rtt_us(100);
  }
  EXPECT_THAT(std::string(ValidateRtts(rtts).message()), HasSubstr("1025 peers"));
}

TEST(ReportValidationTest, AnRttThatCouldOverflowPathCostsIsRefused) {
  v1::RttReport rtts;
  v1::PeerRtt* p = rtts.add_peers();
  p->set_node_id("peer");
  p->set_rtt_us(3'600'000'000);
  EXPECT_TRUE(ValidateRtts(rtts).ok());
  p->set_rtt_us(uint64_t{1} << 63);
  absl::Status s = ValidateRtts(rtts);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("peer"));
}

TEST(ReportValidationTest, AMalformedCoordinateIsRefused) {
  v1::RttReport rtts;
  v1::Coordinate* c = rtts.mutable_coordinate();
  for (int i = 0; i < 8; ++i) c->add_vec(100.0 * i);
  c->set_height(50);
  c->set_error(0.5);
  EXPECT_TRUE(ValidateRtts(rtts).ok());
  c->set_error(7);  // above 1.5
  absl::Status s = ValidateRtts(rtts);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("coordinate error"));
  c->set_error(0.5);
  c->add_vec(1);  // nine components
  EXPECT_EQ(ValidateRtts(rtts).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace canopy::controller
