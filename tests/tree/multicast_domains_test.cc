#include "tree/multicast_domains.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::tree {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(MulticastDomainsTest, MutualHearingLinksNodesIntoDomains) {
  // a-b hear each other, b-c too: one domain {a,b,c}. d-e another. f hears
  // a but a does not hear f: f stays alone. g hears nobody.
  auto d = MulticastDomains({{"a", {"b"}},
                             {"b", {"a", "c"}},
                             {"c", {"b"}},
                             {"d", {"e"}},
                             {"e", {"d"}},
                             {"f", {"a"}},
                             {"g", {}}});
  EXPECT_THAT(d["a"], ElementsAre("a", "b", "c"));
  EXPECT_THAT(d["c"], ElementsAre("a", "b", "c"));
  EXPECT_THAT(d["e"], ElementsAre("d", "e"));
  EXPECT_FALSE(d.contains("f"));
  EXPECT_FALSE(d.contains("g"));
}

TEST(MulticastDomainsTest, PeersThatAreNotNodesAndSelfHearingCountForNothing) {
  EXPECT_THAT(MulticastDomains({{"a", {"a", "ghost"}}}), IsEmpty());
  EXPECT_THAT(MulticastDomains({}), IsEmpty());
}

}  // namespace
}  // namespace canopy::tree
