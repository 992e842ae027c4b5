#ifndef CANOPY_CLIENT_SDK_SRC_VERSION_CODEC_H_
#define CANOPY_CLIENT_SDK_SRC_VERSION_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/object_codec.h"

namespace canopy {

// Messages of a versioned object stream (docs/objects.md, "Versions"): a
// VERSION record right before each object it describes (a whole version, or
// a delta carrying only the chunks that changed) and an ANNOUNCE of the
// latest version with the messages a receiver must fetch to hold it. Both
// start with the 16-byte header "CNVS", version 1, kind, two zero bytes and
// the 64-bit stream id (random per publisher). Integers are big-endian.
// Object receivers that do not know them skip them (wrong magic).

inline constexpr size_t kVersionHeaderBytes = 16;
// Bounds a receiver enforces on what a peer sends.
inline constexpr uint32_t kMaxVersionChunks = 1u << 20;
inline constexpr uint32_t kMaxTableBytes = 8u << 20;
inline constexpr uint16_t kMaxChainEntries = 64;

enum class VersionMessageKind : uint8_t { kVersion = 1, kAnnounce = 2 };

// What one object of the stream is.
struct VersionRecord {
  uint64_t stream = 0;
  uint64_t version = 0;
  uint64_t object_id = 0;  // the object that follows this record
  bool delta = false;
  uint64_t size = 0;         // bytes of the whole version
  uint32_t chunk_bytes = 0;  // of the version and of the object
  Sha256 sha256{};           // of the whole version
  uint64_t base_version = 0;  // delta: the version it patches
  Sha256 base_sha256{};       // delta: that version's digest
  // XXH3-64 of every chunk of the whole version (ceil(size / chunk_bytes)).
  std::vector<uint64_t> chunk_hashes;
  // Delta: the version's chunks the object carries, increasing; object
  // chunk j is version chunk changed[j]. Empty for a whole version.
  std::vector<uint32_t> changed;
  // Opaque description of the bytes (a safetensors header for tensors).
  std::string table;

  uint32_t chunk_count() const { return static_cast<uint32_t>(chunk_hashes.size()); }
  // Bytes of version chunk `index`.
  uint64_t ChunkSize(uint32_t index) const;
};

// One object a receiver fetches: its VERSION record sits `back` messages
// before the ANNOUNCE, and it spans `messages` messages from the record to
// the object's END.
struct ChainEntry {
  uint64_t version = 0;
  uint64_t object_id = 0;
  uint64_t back = 0;
  uint64_t messages = 0;
};

struct Announcement {
  uint64_t stream = 0;
  uint64_t version = 0;
  Sha256 sha256{};
  uint32_t chunk_bytes = 0;  // of the chain's objects (a fetch sizes its windows by it)
  // A whole version first, then deltas each on the one before; the last
  // entry is `version`.
  std::vector<ChainEntry> chain;
};

std::string EncodeVersion(const VersionRecord& r);
std::string EncodeAnnouncement(const Announcement& a);

// Kind of a versions message; InvalidArgument for anything else.
absl::StatusOr<VersionMessageKind> PeekVersionKind(absl::string_view message);
// Strict decoders: InvalidArgument naming what does not add up.
absl::StatusOr<VersionRecord> DecodeVersion(absl::string_view message);
absl::StatusOr<Announcement> DecodeAnnouncement(absl::string_view message);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_VERSION_CODEC_H_
