#include "src/object_codec.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"
#include "xxhash.h"

namespace canopy {
namespace {

namespace endian = boost::endian;

constexpr char kMagic[4] = {'C', 'N', 'O', 'B'};
constexpr uint8_t kVersion = 1;
constexpr size_t kManifestFixedBytes = kObjectHeaderBytes + 8 + 4 + 4 + 2;
constexpr size_t kEndBytes = kObjectHeaderBytes + 32;

unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

void PutObjectHeader(ObjectMessageKind kind, uint64_t object_id, char* out) {
  std::memcpy(out, kMagic, 4);
  out[4] = static_cast<char>(kVersion);
  out[5] = static_cast<char>(kind);
  out[6] = out[7] = 0;
  endian::store_big_u64(U(out + 8), object_id);
}

}  // namespace

uint64_t ObjectManifest::ChunkSize(uint32_t index) const {
  const uint64_t start = static_cast<uint64_t>(index) * chunk_bytes;
  return start >= size ? 0 : std::min<uint64_t>(chunk_bytes, size - start);
}

uint64_t ChunkHash(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::string EncodeManifest(const ObjectManifest& m) {
  std::string out(kManifestFixedBytes + m.name.size(), '\0');
  char* p = out.data();
  PutObjectHeader(ObjectMessageKind::kManifest, m.object_id, p);
  endian::store_big_u64(U(p + 16), m.size);
  endian::store_big_u32(U(p + 24), m.chunk_bytes);
  endian::store_big_u32(U(p + 28), m.chunk_count);
  endian::store_big_u16(U(p + 32), static_cast<uint16_t>(m.name.size()));
  std::memcpy(p + kManifestFixedBytes, m.name.data(), m.name.size());
  return out;
}

std::array<char, kChunkHeaderBytes> EncodeChunkHeader(uint64_t object_id, uint32_t index,
                                                      absl::string_view data) {
  std::array<char, kChunkHeaderBytes> h{};
  PutObjectHeader(ObjectMessageKind::kChunk, object_id, h.data());
  endian::store_big_u32(U(h.data() + 16), index);
  endian::store_big_u64(U(h.data() + 24), ChunkHash(data));
  return h;
}

absl::StatusOr<ObjectMessageKind> PeekKind(absl::string_view message) {
  if (message.size() < kObjectHeaderBytes || std::memcmp(message.data(), kMagic, 4) != 0) {
    return absl::InvalidArgumentError("not an object message (no CNOB header)");
  }
  if (static_cast<uint8_t>(message[4]) != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("object message version ", static_cast<int>(message[4]), ", want 1"));
  }
  const auto kind = static_cast<uint8_t>(message[5]);
  if (kind != static_cast<uint8_t>(ObjectMessageKind::kManifest) &&
      kind != static_cast<uint8_t>(ObjectMessageKind::kChunk) &&
      kind != static_cast<uint8_t>(ObjectMessageKind::kEnd)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown object message kind ", kind));
  }
  return static_cast<ObjectMessageKind>(kind);
}

absl::StatusOr<ObjectManifest> DecodeManifest(absl::string_view message) {
  absl::StatusOr<ObjectMessageKind> kind = PeekKind(message);
  if (!kind.ok()) return kind.status();
  if (*kind != ObjectMessageKind::kManifest) return absl::InvalidArgumentError("not a manifest");
  if (message.size() < kManifestFixedBytes) {
    return absl::InvalidArgumentError("manifest truncated");
  }
  const char* p = message.data();
  ObjectManifest m;
  m.object_id = endian::load_big_u64(U(p + 8));
  m.size = endian::load_big_u64(U(p + 16));
  m.chunk_bytes = endian::load_big_u32(U(p + 24));
  m.chunk_count = endian::load_big_u32(U(p + 28));
  const uint16_t name_bytes = endian::load_big_u16(U(p + 32));
  if (name_bytes > kMaxObjectNameBytes || message.size() != kManifestFixedBytes + name_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest name of ", name_bytes, " bytes does not fit its message"));
  }
  m.name = std::string(message.substr(kManifestFixedBytes));
  if (m.chunk_bytes < kMinChunkBytes || m.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk size of ", m.chunk_bytes, " bytes is not ", kMinChunkBytes, "..", kMaxChunkBytes));
  }
  const uint64_t want = m.size / m.chunk_bytes + (m.size % m.chunk_bytes != 0);
  if (want != m.chunk_count) {
    return absl::InvalidArgumentError(absl::StrCat("manifest says ", m.chunk_count, " chunks for ",
                                                   m.size, " bytes, want ", want));
  }
  return m;
}

absl::StatusOr<ChunkView> DecodeChunk(absl::string_view message) {
  absl::StatusOr<ObjectMessageKind> kind = PeekKind(message);
  if (!kind.ok()) return kind.status();
  if (*kind != ObjectMessageKind::kChunk || message.size() < kChunkHeaderBytes) {
    return absl::InvalidArgumentError("not a chunk message");
  }
  ChunkView c;
  c.object_id = endian::load_big_u64(U(message.data() + 8));
  c.index = endian::load_big_u32(U(message.data() + 16));
  c.xxh3 = endian::load_big_u64(U(message.data() + 24));
  c.data = message.substr(kChunkHeaderBytes);
  return c;
}

std::string EncodeEnd(uint64_t object_id, const Sha256& sha256) {
  std::string out(kEndBytes, '\0');
  PutObjectHeader(ObjectMessageKind::kEnd, object_id, out.data());
  std::memcpy(out.data() + kObjectHeaderBytes, sha256.data(), sha256.size());
  return out;
}

absl::StatusOr<std::pair<uint64_t, Sha256>> DecodeEnd(absl::string_view message) {
  absl::StatusOr<ObjectMessageKind> kind = PeekKind(message);
  if (!kind.ok()) return kind.status();
  if (*kind != ObjectMessageKind::kEnd || message.size() != kEndBytes) {
    return absl::InvalidArgumentError("not an END message of 48 bytes");
  }
  Sha256 digest;
  std::memcpy(digest.data(), message.data() + kObjectHeaderBytes, digest.size());
  return std::make_pair(endian::load_big_u64(U(message.data() + 8)), digest);
}

std::string HexDigest(const Sha256& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace canopy
