#include "node/native_scope.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

uint32_t Ip(const char* text) { return *ParseIpv4(text); }

TEST(NativeScopeTest, ParsesAddressesStrictly) {
  EXPECT_EQ(*ParseIpv4("224.1.2.3"), 0xE0010203u);
  EXPECT_EQ(FormatIpv4(0xE0010203u), "224.1.2.3");
  for (const char* bad : {"", "224.1.2", "224.1.2.3.4", "224.01.2.3", "256.1.1.1", " 1.2.3.4",
                          "1.2.3.-4", "a.b.c.d"}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
}

TEST(NativeScopeTest, ParsesPrefixesAndRanges) {
  Ipv4Range r = *ParseCidr("239.192.0.0/14");
  EXPECT_EQ(r.first, Ip("239.192.0.0"));
  EXPECT_EQ(r.last, Ip("239.195.255.255"));
  EXPECT_EQ(r.ToString(), "239.192.0.0/14");
  EXPECT_FALSE(ParseCidr("239.192.0.1/14").ok());  // host bits
  EXPECT_FALSE(ParseCidr("239.192.0.0/33").ok());
  EXPECT_FALSE(ParseCidr("239.192.0.0").ok());
  Ipv4Range span = *ParseRange("224.0.1.0-239.255.255.255");
  EXPECT_EQ(span.ToString(), "224.0.1.0-239.255.255.255");
  EXPECT_FALSE(ParseRange("239.0.0.2-239.0.0.1").ok());
}

TEST(NativeScopeTest, LinkLocalAndLocalScopeAlwaysStop) {
  NativeScope scope;
  EXPECT_EQ(scope.Check(Ip("224.0.0.251")), ScopeReason::kLinkLocal);
  EXPECT_EQ(scope.Check(Ip("239.255.1.2")), ScopeReason::kLocalScope);
  EXPECT_EQ(scope.Check(Ip("239.1.2.3")), ScopeReason::kNone);
  EXPECT_EQ(scope.Check(Ip("224.0.1.1")), ScopeReason::kNone);
  EXPECT_EQ(scope.Check(Ip("232.1.1.1")), ScopeReason::kNone);
}

TEST(NativeScopeTest, BoundariesStopTheirRanges) {
  NativeScope scope({*ParseCidr("239.192.0.0/14")});
  EXPECT_EQ(scope.Check(Ip("239.193.0.1")), ScopeReason::kBoundary);
  EXPECT_EQ(scope.Check(Ip("239.196.0.1")), ScopeReason::kNone);
  EXPECT_EQ(ScopeReasonName(ScopeReason::kBoundary), "boundary");
  EXPECT_EQ(ScopeReasonName(ScopeReason::kTtl), "ttl");
  EXPECT_EQ(scope.Describe(),
            (std::vector<std::string>{"224.0.0.0/24", "239.255.0.0/16", "239.192.0.0/14"}));
  EXPECT_FALSE(NativeScope::ValidateBoundary(*ParseCidr("10.0.0.0/8")).ok());
  EXPECT_TRUE(NativeScope::ValidateBoundary(*ParseCidr("239.0.0.0/8")).ok());
}

TEST(NativeScopeTest, ServesARangeLessTheScopes) {
  NativeScope scope({*ParseCidr("239.192.0.0/14")});
  std::vector<Ipv4Range> served = scope.Serve(kDefaultAutoRange);
  std::vector<std::string> text;
  for (const Ipv4Range& r : served) text.push_back(r.ToString());
  EXPECT_EQ(text, (std::vector<std::string>{"224.0.1.0-239.191.255.255",
                                            "239.196.0.0-239.254.255.255"}));
}

}  // namespace
}  // namespace canopy::node
