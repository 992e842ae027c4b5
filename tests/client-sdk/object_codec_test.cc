// Object manifests are checked before a receiver allocates anything for
// them: sizes that add up, chunk sizes in range.

#include "src/object_codec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

using ::testing::HasSubstr;

ObjectManifest Manifest(uint64_t size, uint32_t chunk_bytes, uint32_t chunk_count) {
  ObjectManifest m;
  m.object_id = 7;
  m.size = size;
  m.chunk_bytes = chunk_bytes;
  m.chunk_count = chunk_count;
  m.name = "weights.bin";
  return m;
}

TEST(ObjectManifestTest, ConsistentManifestsRoundTrip) {
  for (const ObjectManifest& m :
       {Manifest(0, 1024, 0), Manifest(1, 1024, 1), Manifest(1024, 1024, 1),
        Manifest(1025, 1024, 2), Manifest(uint64_t{15} << 20, kMaxChunkBytes, 1),
        Manifest((uint64_t{1} << 40) + 1, 1u << 20, (1u << 20) + 1)}) {
    absl::StatusOr<ObjectManifest> decoded = DecodeManifest(EncodeManifest(m));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->size, m.size);
    EXPECT_EQ(decoded->chunk_bytes, m.chunk_bytes);
    EXPECT_EQ(decoded->chunk_count, m.chunk_count);
    EXPECT_EQ(decoded->name, m.name);
  }
}

TEST(ObjectManifestTest, AChunkCountThatDoesNotMatchTheSizeIsRefused) {
  for (const ObjectManifest& m :
       {Manifest(1024, 1024, 2), Manifest(1025, 1024, 1), Manifest(0, 1024, 1),
        Manifest(10, 1024, 0), Manifest(1 << 20, 1024, 4294967295u)}) {
    absl::StatusOr<ObjectManifest> decoded = DecodeManifest(EncodeManifest(m));
    ASSERT_FALSE(decoded.ok()) << m.size << " " << m.chunk_count;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(decoded.status().message(), HasSubstr("chunks"));
  }
}

TEST(ObjectManifestTest, ChunkSizesOutOfRangeAreRefused) {
  // The 49-byte manifest of a hostile sender: 4294967295 chunks of one
  // byte add up, but would cost a receiver a bit per byte.
  ObjectManifest hostile = Manifest(4294967295u, 1, 4294967295u);
  hostile.name = "fifteen-bytes.x";
  const std::string message = EncodeManifest(hostile);
  ASSERT_EQ(message.size(), 49u);
  for (const std::string& m :
       {message, EncodeManifest(Manifest(1023, 1023, 1)), EncodeManifest(Manifest(0, 0, 0)),
        EncodeManifest(Manifest(kMaxChunkBytes + 1, kMaxChunkBytes + 1, 1))}) {
    absl::StatusOr<ObjectManifest> decoded = DecodeManifest(m);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(decoded.status().message(), HasSubstr("chunk size"));
  }
}

TEST(ObjectManifestTest, TruncatedOrOverlongManifestsAreRefused) {
  const std::string good = EncodeManifest(Manifest(1, 1024, 1));
  EXPECT_FALSE(DecodeManifest(good.substr(0, good.size() - 1)).ok());
  EXPECT_FALSE(DecodeManifest(good + "x").ok());
  EXPECT_FALSE(DecodeManifest(good.substr(0, 20)).ok());
}

}  // namespace
}  // namespace canopy
