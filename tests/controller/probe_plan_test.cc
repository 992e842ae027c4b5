#include "controller/probe_plan.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

std::string Id(int i) { return absl::StrFormat("n%03d", i); }

NetworkCoordinate OnLine(double x) {
  NetworkCoordinate c;
  c.vec[0] = x;
  c.error = 0.1;
  return c;
}

TEST(ProbePlanTest, SmallOverlayIsAFullMesh) {
  ProbePlan plan(ProbePlanOptions{.nearest = 2, .random = 1});
  EXPECT_THAT(plan.AddNode("a"), ElementsAre("a"));
  EXPECT_THAT(plan.AddNode("b"), ElementsAre("a", "b"));
  plan.AddNode("c");
  EXPECT_THAT(plan.AddNode("d"), ElementsAre("a", "b", "c", "d"));
  EXPECT_TRUE(plan.full_mesh());
  EXPECT_THAT(plan.PeersOf("b"), ElementsAre("a", "c", "d"));
  EXPECT_TRUE(plan.Probes("d", "a"));
  EXPECT_FALSE(plan.Probes("d", "d"));
  EXPECT_FALSE(plan.Probes("d", "zz"));
  EXPECT_THAT(plan.PeersOf("zz"), IsEmpty());
}

TEST(ProbePlanTest, OutgrowingTheMeshBoundsEveryList) {
  ProbePlan plan(ProbePlanOptions{.nearest = 3, .random = 2});
  for (int i = 0; i < 6; ++i) plan.AddNode(Id(i));
  ASSERT_TRUE(plan.full_mesh());
  // The seventh node ends the full mesh: everyone gets a list of 5.
  EXPECT_THAT(plan.AddNode(Id(6)), SizeIs(7));
  EXPECT_FALSE(plan.full_mesh());
  for (int i = 7; i < 200; ++i) EXPECT_THAT(plan.AddNode(Id(i)), ElementsAre(Id(i)));
  std::set<std::pair<std::string, std::string>> links;
  plan.ForEachLink([&](const std::string& a, const std::string& b) {
    EXPECT_LT(a, b);
    EXPECT_TRUE(links.insert({a, b}).second) << a << " " << b << " twice";
    EXPECT_TRUE(plan.Probes(a, b) || plan.Probes(b, a));
  });
  size_t probed = 0;
  for (int i = 0; i < 200; ++i) {
    const std::vector<std::string> peers = plan.PeersOf(Id(i));
    EXPECT_THAT(peers, SizeIs(5)) << Id(i);
    EXPECT_THAT(peers, Not(Contains(Id(i))));
    probed += peers.size();
  }
  EXPECT_LE(links.size(), probed);
  EXPECT_GE(links.size(), probed / 2);
}

TEST(ProbePlanTest, NearestPeersFollowCoordinates) {
  ProbePlan plan(ProbePlanOptions{.nearest = 2, .random = 1, .seed = 7});
  for (int i = 0; i < 50; ++i) plan.AddNode(Id(i));
  // Nodes on a line, 1 ms apart; the first report of each picks again.
  for (int i = 0; i < 50; ++i) plan.SetCoordinate(Id(i), OnLine(1000.0 * i));
  for (int i = 0; i < 50; ++i) plan.SetCoordinate(Id(i), OnLine(1000.0 * i));
  for (int i = 5; i < 45; ++i) {
    const std::vector<std::string> peers = plan.PeersOf(Id(i));
    ASSERT_THAT(peers, SizeIs(3));
    int neighbours = 0;
    for (const std::string& p : peers) neighbours += (p == Id(i - 1) || p == Id(i + 1));
    // Both neighbours, unless the random peer is one of them and the next
    // nearest took its place.
    EXPECT_GE(neighbours, 1) << Id(i);
    for (const std::string& p : peers) {
      if (p == Id(i - 1) || p == Id(i + 1)) continue;
      const bool second_ring = p == Id(i - 2) || p == Id(i + 2);
      EXPECT_TRUE(second_ring || neighbours == 2) << Id(i) << " probes " << p;
    }
  }
  std::optional<std::string> nearest =
      plan.Nearest(OnLine(20400), [](const std::string& id) { return id != Id(20); });
  EXPECT_EQ(nearest, Id(21));
}

TEST(ProbePlanTest, ListsDoNotFlapOnSmallMoves) {
  ProbePlan plan(ProbePlanOptions{.nearest = 2, .random = 0});
  for (int i = 0; i < 10; ++i) plan.AddNode(Id(i));
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 10; ++i) plan.SetCoordinate(Id(i), OnLine(1000.0 * i));
  }
  const std::vector<std::string> before = plan.PeersOf(Id(5));
  ASSERT_THAT(before, ElementsAre(Id(4), Id(6)));
  // n003 moves 5 % nearer than n006 would be: not enough to switch.
  plan.SetCoordinate(Id(3), OnLine(5000 - 1900));
  for (int i = 0; i < 40; ++i) plan.SetCoordinate(Id(5), OnLine(5000));
  EXPECT_EQ(plan.PeersOf(Id(5)), before);
}

TEST(ProbePlanTest, DepartedPeersAreReplaced) {
  ProbePlan plan(ProbePlanOptions{.nearest = 3, .random = 1});
  for (int i = 0; i < 30; ++i) plan.AddNode(Id(i));
  std::set<std::string> probers;
  for (int i = 1; i < 30; ++i) {
    if (plan.Probes(Id(i), Id(0))) probers.insert(Id(i));
  }
  const std::vector<std::string> changed = plan.RemoveNode(Id(0));
  EXPECT_EQ(std::set<std::string>(changed.begin(), changed.end()), probers);
  for (int i = 1; i < 30; ++i) {
    EXPECT_THAT(plan.PeersOf(Id(i)), SizeIs(4));
    EXPECT_THAT(plan.PeersOf(Id(i)), Not(Contains(Id(0))));
  }
  EXPECT_THAT(plan.RemoveNode(Id(0)), IsEmpty());
  // Shrinking back into a full mesh: everyone probes everyone again.
  for (int i = 1; i < 25; ++i) plan.RemoveNode(Id(i));
  EXPECT_TRUE(plan.full_mesh());
  EXPECT_THAT(plan.PeersOf(Id(29)), ElementsAre(Id(25), Id(26), Id(27), Id(28)));
}

TEST(ProbePlanTest, FullMeshListsAreBounded) {
  ProbePlan plan(ProbePlanOptions{.nearest = kMaxProbePeers, .random = 0});
  for (int i = 0; i < 300; ++i) plan.AddNode(Id(i));
  ASSERT_FALSE(plan.full_mesh());
  EXPECT_THAT(plan.PeersOf(Id(0)), SizeIs(kMaxProbePeers));
}

}  // namespace
}  // namespace canopy::controller
