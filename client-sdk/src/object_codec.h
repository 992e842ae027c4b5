#ifndef CANOPY_CLIENT_SDK_SRC_OBJECT_CODEC_H_
#define CANOPY_CLIENT_SDK_SRC_OBJECT_CODEC_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy {

// Messages of an object transfer (docs/objects.md): one MANIFEST, one CHUNK
// message per chunk in order, then END with the whole object's SHA-256, all
// from the same source. Integers are big-endian.

inline constexpr size_t kObjectHeaderBytes = 16;  // magic, version, kind, id
inline constexpr size_t kChunkHeaderBytes = 32;   // + index, reserved, xxh3
inline constexpr size_t kMaxObjectNameBytes = 1024;
inline constexpr uint32_t kMinChunkBytes = 1024;
inline constexpr uint32_t kMaxChunkBytes = 15u << 20;  // a chunk message stays under 16 MiB

enum class ObjectMessageKind : uint8_t { kManifest = 1, kChunk = 2, kEnd = 3 };

struct ObjectManifest {
  uint64_t object_id = 0;
  uint64_t size = 0;         // bytes
  uint32_t chunk_bytes = 0;  // every chunk but the last has this size
  uint32_t chunk_count = 0;  // ceil(size / chunk_bytes); 0 for an empty object
  std::string name;

  // Bytes of chunk `index` (the last one may be short).
  uint64_t ChunkSize(uint32_t index) const;
};

struct ChunkView {
  uint64_t object_id = 0;
  uint32_t index = 0;
  uint64_t xxh3 = 0;       // XXH3-64 of `data`, computed by the sender
  absl::string_view data;  // points into the message
};

using Sha256 = std::array<unsigned char, 32>;

std::string EncodeManifest(const ObjectManifest& m);
std::string EncodeEnd(uint64_t object_id, const Sha256& sha256);
// The 32 header bytes of a chunk message; the data follows them.
std::array<char, kChunkHeaderBytes> EncodeChunkHeader(uint64_t object_id, uint32_t index,
                                                      absl::string_view data);

// Kind of an object message; InvalidArgument for anything else (wrong
// magic or version, too short).
absl::StatusOr<ObjectMessageKind> PeekKind(absl::string_view message);
// Strict decoders: InvalidArgument with what is wrong (sizes that do not
// add up, a name too long, chunk_bytes out of range, ...). A manifest is
// accepted only if chunk_bytes is kMinChunkBytes..kMaxChunkBytes and
// chunk_count is exactly ceil(size / chunk_bytes), so a receiver's
// bookkeeping (a bit per chunk) stays below 1/8192 of the object's size
// and nothing needs allocating before the size is checked against the
// receiver's limit.
absl::StatusOr<ObjectManifest> DecodeManifest(absl::string_view message);
absl::StatusOr<ChunkView> DecodeChunk(absl::string_view message);
// The END message: object id and SHA-256.
absl::StatusOr<std::pair<uint64_t, Sha256>> DecodeEnd(absl::string_view message);

// XXH3-64 of chunk data, as chunk messages carry it.
uint64_t ChunkHash(absl::string_view data);

// Lowercase hex of a SHA-256 digest.
std::string HexDigest(const Sha256& digest);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_OBJECT_CODEC_H_
