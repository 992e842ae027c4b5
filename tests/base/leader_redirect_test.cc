// Several controller addresses (--controller A,B,C): parsing the list, and
// the order ControllerAddresses tries them in, following redirects.

#include "base/leader_redirect.h"

#include <optional>
#include <string>

#include "base/address.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(ParseHostPortListTest, TakesOneOrSeveralAddresses) {
  auto one = ParseHostPortList("127.0.0.1:7600");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().ToString(), "127.0.0.1:7600");
  auto three = ParseHostPortList("127.0.0.1:7600,127.0.0.1:7610,localhost:7620");
  ASSERT_TRUE(three.ok()) << three.status();
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[2].ToString(), "localhost:7620");
}

TEST(ParseHostPortListTest, RefusesEmptyEntriesAndPortZeroNamingTheEntry) {
  for (const char* bad : {"", ",", "127.0.0.1:7600,", ",127.0.0.1:7600", "a:1,,b:2"}) {
    EXPECT_FALSE(ParseHostPortList(bad).ok()) << bad;
  }
  auto zero = ParseHostPortList("127.0.0.1:7600,127.0.0.1:0");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("127.0.0.1:0"), std::string::npos) << zero.status();
  EXPECT_FALSE(ParseHostPortList("127.0.0.1:7600,nonsense").ok());
}

TEST(ControllerAddressesTest, TriesEachGivenAddressOncePerRound) {
  ControllerAddresses a({"A", "B", "C"});
  EXPECT_EQ(a.current(), "A");
  EXPECT_TRUE(a.Advance(std::nullopt));
  EXPECT_EQ(a.current(), "B");
  EXPECT_TRUE(a.Advance(std::nullopt));
  EXPECT_EQ(a.current(), "C");
  EXPECT_FALSE(a.Advance(std::nullopt)) << "every address failed: the round is over";
  EXPECT_EQ(a.current(), "A");
  EXPECT_EQ(a.given(), "A,B,C");
}

TEST(ControllerAddressesTest, FollowsARedirectThenGoesOnWithTheGivenOnes) {
  ControllerAddresses a({"A", "B"});
  EXPECT_TRUE(a.Advance(std::string("L")));
  EXPECT_EQ(a.current(), "L");
  a.Succeeded();
  // The leader fails: the next given address, not L again.
  EXPECT_TRUE(a.Advance(std::nullopt));
  EXPECT_EQ(a.current(), "B");
}

TEST(ControllerAddressesTest, RedirectToItselfOrEndlessRedirectsEndTheRound) {
  ControllerAddresses a({"A"});
  // A follower naming the address just called is no progress.
  EXPECT_FALSE(a.Advance(std::string("A")));
  a.Succeeded();
  // Followers naming each other: a bounded number of hops, then a round ends.
  int hops = 0;
  bool going = true;
  for (int i = 0; i < 100 && going; ++i) {
    going = a.Advance(std::string(i % 2 == 0 ? "X" : "Y"));
    ++hops;
  }
  EXPECT_FALSE(going);
  EXPECT_LT(hops, 10);
}

TEST(ControllerAddressesTest, SuccessStartsANewRound) {
  ControllerAddresses a({"A", "B"});
  EXPECT_TRUE(a.Advance(std::nullopt));
  a.Succeeded();
  EXPECT_TRUE(a.Advance(std::nullopt)) << "one failure after a success is not a full round";
}

}  // namespace
}  // namespace canopy
