#include "node/igmp_membership.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/igmp_packet.h"

namespace canopy::node {
namespace {

uint32_t Ip(const char* text) { return *ParseIpv4(text); }

const absl::Time kStart = absl::FromUnixSeconds(1000);

IgmpMessage V3(std::vector<IgmpGroupRecord> records) {
  IgmpMessage m;
  m.type = IgmpType::kV3Report;
  m.records = std::move(records);
  return m;
}

IgmpMessage V2(IgmpType type, const char* group) {
  IgmpMessage m;
  m.type = type;
  m.group = Ip(group);
  return m;
}

std::string Describe(const v1::SourceFilter& f) {
  std::string out = f.mode() == v1::FILTER_MODE_EXCLUDE ? "EX" : "IN";
  for (const std::string& s : f.sources()) out += " " + s;
  return out;
}

IgmpMembership Make(size_t max_groups = 16, size_t max_sources = 8) {
  return IgmpMembership(IgmpTimers{}, {kDefaultAutoRange}, max_groups, max_sources);
}

TEST(IgmpMembershipTest, AV2ReportJoinsWithAnySourceAndExpiresAfterTheInterval) {
  IgmpMembership m = Make();
  IgmpMembership::Outcome o = m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "239.1.2.3"), kStart);
  EXPECT_TRUE(o.changed);
  ASSERT_EQ(m.Groups().size(), 1u);
  EXPECT_EQ(Describe(m.Groups().at(Ip("239.1.2.3"))), "EX");
  const absl::Duration gmi = IgmpTimers{}.GroupMembershipInterval();
  EXPECT_EQ(gmi, absl::Seconds(260));
  EXPECT_FALSE(m.Expire(kStart + gmi - absl::Seconds(1)));
  EXPECT_TRUE(m.Expire(kStart + gmi));
  EXPECT_TRUE(m.Groups().empty());
}

TEST(IgmpMembershipTest, ALeaveAsksForAQueryAndEndsAfterTheLastMemberQueryTime) {
  IgmpMembership m = Make();
  m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "239.1.2.3"), kStart);
  IgmpMembership::Outcome o =
      m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Leave, "239.1.2.3"), kStart + absl::Seconds(1));
  EXPECT_EQ(o.query_groups, std::vector<uint32_t>{Ip("239.1.2.3")});
  EXPECT_FALSE(m.Expire(kStart + absl::Milliseconds(2900)));
  EXPECT_TRUE(m.Expire(kStart + absl::Seconds(3)));
  EXPECT_TRUE(m.Groups().empty());
}

TEST(IgmpMembershipTest, ASilentListenerThatAnswersTheQueryKeepsTheGroup) {
  IgmpMembership m = Make();
  m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "239.1.2.3"), kStart);
  m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Leave, "239.1.2.3"), kStart);
  m.Apply(Ip("10.0.0.6"), V2(IgmpType::kV2Report, "239.1.2.3"), kStart + absl::Seconds(1));
  m.Expire(kStart + absl::Seconds(5));
  EXPECT_EQ(m.Groups().size(), 1u);
}

TEST(IgmpMembershipTest, FiltersOfListenersMergeAsRfc3376Says) {
  IgmpMembership m = Make();
  const uint32_t g = Ip("232.1.1.1");
  m.Apply(Ip("10.0.0.5"), V3({{IgmpRecordType::kIsInclude, g, {Ip("10.1.0.1")}}}), kStart);
  EXPECT_EQ(Describe(m.Groups().at(g)), "IN 10.1.0.1");
  m.Apply(Ip("10.0.0.6"), V3({{IgmpRecordType::kAllowNew, g, {Ip("10.1.0.2")}}}), kStart);
  EXPECT_EQ(Describe(m.Groups().at(g)), "IN 10.1.0.1 10.1.0.2");
  // An EXCLUDE listener makes the group EXCLUDE of what no INCLUDE names.
  m.Apply(Ip("10.0.0.7"), V3({{IgmpRecordType::kToExclude, g, {Ip("10.1.0.2"), Ip("10.1.0.3")}}}),
          kStart);
  EXPECT_EQ(Describe(m.Groups().at(g)), "EX 10.1.0.3");
  // BLOCK in INCLUDE mode removes; TO_IN {} leaves.
  m.Apply(Ip("10.0.0.6"), V3({{IgmpRecordType::kBlockOld, g, {Ip("10.1.0.2")}}}), kStart);
  m.Apply(Ip("10.0.0.7"), V3({{IgmpRecordType::kToInclude, g, {}}}), kStart);
  m.Expire(kStart + absl::Seconds(3));
  EXPECT_EQ(Describe(m.Groups().at(g)), "IN 10.1.0.1");
}

TEST(IgmpMembershipTest, OutOfRangeIsIgnoredAndTheBoundsRefuse) {
  IgmpMembership m = Make(/*max_groups=*/1, /*max_sources=*/2);
  IgmpMembership::Outcome o =
      m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "224.0.0.251"), kStart);
  EXPECT_EQ(o.ignored, 1u);
  EXPECT_FALSE(o.changed);
  m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "239.1.2.3"), kStart);
  o = m.Apply(Ip("10.0.0.5"), V2(IgmpType::kV2Report, "239.1.2.4"), kStart);
  EXPECT_EQ(o.refused, 1u);
  o = m.Apply(Ip("10.0.0.6"), V3({{IgmpRecordType::kIsInclude, Ip("239.1.2.3"),
                                    {Ip("10.1.0.1"), Ip("10.1.0.2"), Ip("10.1.0.3")}}}),
              kStart);
  EXPECT_EQ(o.refused, 1u);
  EXPECT_EQ(m.Groups().size(), 1u);
}

TEST(IgmpPacketTest, TruncatedAndCorruptMessagesAreErrors) {
  // A v3 report that announces more records and sources than it carries.
  std::string report = {0x22, 0, 0, 0, 0, 0, 0, 5};
  EXPECT_FALSE(ParseIgmp(report).ok());
  EXPECT_FALSE(ParseIgmp("").ok());
  std::string query = EncodeIgmpV3Query(0, {}, absl::Seconds(10), false, 2, absl::Seconds(125));
  absl::StatusOr<IgmpMessage> parsed = ParseIgmp(query);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, IgmpType::kQuery);
  EXPECT_EQ(parsed->max_response, absl::Seconds(10));
  query[0] ^= 1;  // the checksum no longer holds
  EXPECT_FALSE(ParseIgmp(query).ok());
}

}  // namespace
}  // namespace canopy::node
