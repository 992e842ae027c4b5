#include "tree/bulk_shape.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tree/bulk.h"

namespace canopy::tree {
namespace {

constexpr double kDefaultUpload = 100e6;

// A full mesh of a source and receivers with the given uploads (bit/s);
// link costs from a fixed pseudo-random pattern.
OverlayGraph Mesh(int64_t source_upload, const std::vector<int64_t>& uploads) {
  OverlayGraph g;
  g.AddVertex(VertexInfo{"source", 0, source_upload, ""});
  for (size_t i = 0; i < uploads.size(); ++i) {
    g.AddVertex(VertexInfo{absl::StrCat("r", i), 0, uploads[i], ""});
  }
  for (VertexId u = 0; u < g.VertexCount(); ++u) {
    for (VertexId v = u + 1; v < g.VertexCount(); ++v) {
      (void)g.AddEdge(u, v, 100 + (u * 37 + v * 11) % 900);
    }
  }
  return g;
}

std::set<VertexId> Receivers(const OverlayGraph& g) {
  std::set<VertexId> members;
  for (VertexId v = 1; v < g.VertexCount(); ++v) members.insert(v);
  return members;
}

TEST(BulkShapeTest, UnevenUploadsGetAForestWhoseWidthThePlannerChose) {
  // Half the receivers upload a quarter of what the others do: no single
  // tree uses their upload well, so a source striped over 8 flows gets a
  // forest, and stripe i rides tree i % width.
  std::vector<int64_t> uploads;
  for (int i = 0; i < 64; ++i) uploads.push_back(i % 2 == 0 ? 200'000'000 : 50'000'000);
  const OverlayGraph g = Mesh(200'000'000, uploads);
  const std::set<VertexId> members = Receivers(g);
  absl::StatusOr<BulkShape> shape = ChooseBulkShape(g, 0, members, 8, kDefaultUpload);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->kind, BulkShape::Kind::kForest);
  ASSERT_EQ(shape->trees.size(), 8u);
  const int width = shape->distinct_trees;
  EXPECT_GT(width, 1);
  EXPECT_EQ(8 % width, 0);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(shape->trees[i].parent, shape->trees[i % width].parent);
  if (width < 8) {
    EXPECT_NE(shape->trees[0].parent, shape->trees[1].parent);
  }
  // Nothing the planner could have picked instead is predicted faster.
  for (int w : {2, 4, 8}) {
    absl::StatusOr<BulkShape> forest = BuildBulkForest(g, 0, members, w, kDefaultUpload);
    if (forest.ok()) {
      EXPECT_LE(shape->predicted_seconds, forest->predicted_seconds) << w;
    }
  }
  absl::StatusOr<BulkShape> unstriped = ChooseBulkShape(g, 0, members, 1, kDefaultUpload);
  ASSERT_TRUE(unstriped.ok());
  EXPECT_LT(shape->predicted_seconds, unstriped->predicted_seconds);
  // And it is near the bound.
  EXPECT_LE(shape->predicted_seconds, 1.25 * BulkBoundSeconds(g, 0, members, kDefaultUpload));
}

TEST(BulkShapeTest, AFewEqualReceiversKeepOneChainForEveryStripe) {
  // Three receivers as fast as the source: the chain delivers at the
  // source's rate already, so striping gains nothing and is not used.
  const OverlayGraph g = Mesh(100'000'000, {100'000'000, 100'000'000, 100'000'000});
  absl::StatusOr<BulkShape> shape = ChooseBulkShape(g, 0, Receivers(g), 4, kDefaultUpload);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->kind, BulkShape::Kind::kChain);
  EXPECT_EQ(shape->distinct_trees, 1);
  ASSERT_EQ(shape->trees.size(), 4u);
  for (const tree::RootedTree& t : shape->trees) EXPECT_EQ(t.parent, shape->trees[0].parent);
}

TEST(BulkShapeTest, BoundIsTheSlowerOfTheSourceAndTheSharedUpload) {
  // 1 GiB; source 100 Mbit/s; 4 receivers of 20 Mbit/s: N·F/(u_s+Σu) wins.
  const OverlayGraph g = Mesh(100'000'000, {20'000'000, 20'000'000, 20'000'000, 20'000'000});
  const double bits = 8.0 * kBulkReferenceBytes;
  EXPECT_DOUBLE_EQ(BulkBoundSeconds(g, 0, Receivers(g), kDefaultUpload), 4 * bits / 180e6);
  // One receiver: the source's upload is the bound.
  const OverlayGraph one = Mesh(100'000'000, {20'000'000});
  EXPECT_DOUBLE_EQ(BulkBoundSeconds(one, 0, Receivers(one), kDefaultUpload), bits / 100e6);
}

TEST(BulkShapeTest, AForestTooWideForTheUploadsIsRefused) {
  // Receivers that upload almost nothing cannot relay any stripe, and the
  // source may feed only two children: four stripes cannot all start.
  OverlayGraph g = Mesh(1'000'000, {1, 1, 1, 1, 1, 1});
  OverlayGraph limited;
  limited.AddVertex(VertexInfo{"source", 2, 1'000'000, ""});
  for (VertexId v = 1; v < g.VertexCount(); ++v) limited.AddVertex(g.Vertex(v));
  for (const tree::Edge& e : g.Edges()) (void)limited.AddEdge(e.u, e.v, e.cost);
  g = std::move(limited);
  absl::StatusOr<BulkShape> forest = BuildBulkForest(g, 0, Receivers(g), 4, kDefaultUpload);
  EXPECT_EQ(forest.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace canopy::tree
