#include "controller/topology.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tree/components.h"

namespace canopy::controller {
namespace {

std::string Id(int i) { return absl::StrFormat("n%03d", i); }

NodeSpec Spec(int i) { return NodeSpec{.id = Id(i), .data_address = "127.0.0.1:1"}; }

// Node i's coordinate: one of two clusters 100 ms apart, 1 ms across each.
NetworkCoordinate Clustered(int i) {
  NetworkCoordinate c;
  c.vec[0] = (i % 2 == 0 ? 0.0 : 100000.0) + 10.0 * (i % 100);
  c.vec[1] = 7.0 * (i % 13);
  c.error = 0.1;
  return c;
}

// Sparse overlay (3 nearest, no random links) over nodes that arrive and
// leave at random. With no long links the two clusters' nearest lists never
// cross, so only the joining links keep one piece: every node is reachable
// from every other after every change.
TEST(TopologyTest, SparseOverlayStaysConnectedAsNodesComeAndGo) {
  Topology topology(TopologyOptions{.probes = ProbePlanOptions{.nearest = 3, .random = 0}});
  std::mt19937_64 random(11);
  std::set<int> present;
  int64_t joining = 0;
  for (int step = 0; step < 400; ++step) {
    const int i = static_cast<int>(random() % 120);
    if (present.contains(i) && present.size() > 2 && random() % 3 == 0) {
      topology.RemoveNode(Id(i));
      present.erase(i);
    } else if (!present.contains(i)) {
      topology.AddNode(Spec(i));
      present.insert(i);
    }
    // Every node reports its coordinate (twice: nearest peers are chosen at
    // the 1st and 2nd report) and RTTs to its peers.
    for (int round = 0; round < 2; ++round) {
      for (int n : present) topology.ReportCoordinate(Id(n), Clustered(n));
    }
    std::vector<std::string> names;
    const tree::OverlayGraph graph = topology.BuildGraph(names);
    ASSERT_EQ(graph.VertexCount(), static_cast<int32_t>(present.size()));
    const tree::Components pieces = tree::ConnectedComponents(graph);
    ASSERT_EQ(pieces.count, 1) << "step " << step << ", " << present.size() << " nodes, "
                               << topology.links() << " links";
    joining += topology.links_joining();
    if (!topology.probes().full_mesh()) {
      // O(n·k) links, not n²/2.
      EXPECT_LE(topology.links(), static_cast<int64_t>(present.size()) * 3 + 1);
    }
  }
  // The clusters were apart for most of the run: the joining links did the work.
  EXPECT_GT(joining, 100);
}

TEST(TopologyTest, LinksCostMeasuredThenEstimatedThenDefault) {
  Topology topology(TopologyOptions{.default_cost_us = 777,
                                    .probes = ProbePlanOptions{.nearest = 1, .random = 1}});
  for (int i = 0; i < 3; ++i) topology.AddNode(Spec(i));  // a full mesh of three
  topology.ReportRtts(Id(0), {{Id(1), 1000}});
  topology.ReportRtts(Id(1), {{Id(0), 3000}});
  topology.ReportRtts(Id(0), {{Id(2), 500}});
  EXPECT_EQ(topology.LinkCost(Id(0), Id(1)), 2000);  // the mean of both ways
  EXPECT_EQ(topology.LinkCost(Id(2), Id(0)), 500);   // one way
  EXPECT_EQ(topology.LinkCost(Id(1), Id(2)), 777);   // nothing known
  NetworkCoordinate a, b;
  a.error = b.error = 0.2;
  b.vec[0] = 4000;
  topology.ReportCoordinate(Id(1), a);
  topology.ReportCoordinate(Id(2), b);
  // 4000 plus both heights (10 µs each).
  EXPECT_EQ(topology.LinkCost(Id(1), Id(2)), 4020);
  // A coordinate that claims to know little is no estimate.
  b.error = 1.4;
  topology.ReportCoordinate(Id(2), b);
  EXPECT_EQ(topology.LinkCost(Id(1), Id(2)), 777);
  // 0 = unreachable: forgotten.
  topology.ReportRtts(Id(0), {{Id(2), 0}});
  EXPECT_EQ(topology.LinkCost(Id(0), Id(2)), 777);
}

TEST(TopologyTest, OnlyProbedPeersRttsCountOnASparseOverlay) {
  Topology topology(TopologyOptions{.probes = ProbePlanOptions{.nearest = 2, .random = 1}});
  for (int i = 0; i < 20; ++i) topology.AddNode(Spec(i));
  ASSERT_FALSE(topology.probes().full_mesh());
  const std::vector<std::string> peers = topology.probes().PeersOf(Id(0));
  std::string stranger;
  for (int i = 1; i < 20 && stranger.empty(); ++i) {
    if (!topology.probes().Probes(Id(0), Id(i)) && !topology.probes().Probes(Id(i), Id(0))) {
      stranger = Id(i);
    }
  }
  ASSERT_FALSE(stranger.empty());
  topology.ReportRtts(Id(0), {{peers.front(), 1234}, {stranger, 99}});
  EXPECT_EQ(topology.LinkCost(Id(0), peers.front()), 1234);
  EXPECT_EQ(topology.LinkCost(Id(0), stranger), TopologyOptions{}.default_cost_us);
  std::vector<std::string> names;
  const tree::OverlayGraph graph = topology.BuildGraph(names);
  EXPECT_EQ(graph.Cost(0, 0 + static_cast<int32_t>(std::find(names.begin(), names.end(),
                                                               stranger) -
                                                     names.begin())),
            std::nullopt);
}

}  // namespace
}  // namespace canopy::controller
