#include "src/version_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"

namespace canopy {
namespace {

namespace endian = boost::endian;

constexpr char kMagic[4] = {'C', 'N', 'V', 'S'};
constexpr uint8_t kFormat = 1;
constexpr size_t kVersionFixedBytes = kVersionHeaderBytes + 8 + 8 + 4 + 4 + 8 + 32 + 8 + 32 + 4 + 4 + 4;
constexpr size_t kAnnounceFixedBytes = kVersionHeaderBytes + 8 + 32 + 4 + 2;
constexpr size_t kChainEntryBytes = 32;
constexpr uint32_t kDeltaFlag = 1;

unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

void PutHeader(VersionMessageKind kind, uint64_t stream, char* out) {
  std::memcpy(out, kMagic, 4);
  out[4] = static_cast<char>(kFormat);
  out[5] = static_cast<char>(kind);
  out[6] = out[7] = 0;
  endian::store_big_u64(U(out + 8), stream);
}

}  // namespace

uint64_t VersionRecord::ChunkSize(uint32_t index) const {
  const uint64_t start = static_cast<uint64_t>(index) * chunk_bytes;
  return start >= size ? 0 : std::min<uint64_t>(chunk_bytes, size - start);
}

std::string EncodeVersion(const VersionRecord& r) {
  std::string out(kVersionFixedBytes + 8 * r.chunk_hashes.size() + 4 * r.changed.size() +
                      r.table.size(),
                  '\0');
  char* p = out.data();
  PutHeader(VersionMessageKind::kVersion, r.stream, p);
  endian::store_big_u64(U(p + 16), r.version);
  endian::store_big_u64(U(p + 24), r.object_id);
  endian::store_big_u32(U(p + 32), r.delta ? kDeltaFlag : 0);
  endian::store_big_u32(U(p + 36), r.chunk_bytes);
  endian::store_big_u64(U(p + 40), r.size);
  std::memcpy(p + 48, r.sha256.data(), 32);
  endian::store_big_u64(U(p + 80), r.base_version);
  std::memcpy(p + 88, r.base_sha256.data(), 32);
  endian::store_big_u32(U(p + 120), static_cast<uint32_t>(r.chunk_hashes.size()));
  endian::store_big_u32(U(p + 124), static_cast<uint32_t>(r.changed.size()));
  endian::store_big_u32(U(p + 128), static_cast<uint32_t>(r.table.size()));
  char* at = p + kVersionFixedBytes;
  for (uint64_t h : r.chunk_hashes) {
    endian::store_big_u64(U(at), h);
    at += 8;
  }
  for (uint32_t i : r.changed) {
    endian::store_big_u32(U(at), i);
    at += 4;
  }
  std::memcpy(at, r.table.data(), r.table.size());
  return out;
}

std::string EncodeAnnouncement(const Announcement& a) {
  std::string out(kAnnounceFixedBytes + kChainEntryBytes * a.chain.size(), '\0');
  char* p = out.data();
  PutHeader(VersionMessageKind::kAnnounce, a.stream, p);
  endian::store_big_u64(U(p + 16), a.version);
  std::memcpy(p + 24, a.sha256.data(), 32);
  endian::store_big_u32(U(p + 56), a.chunk_bytes);
  endian::store_big_u16(U(p + 60), static_cast<uint16_t>(a.chain.size()));
  char* at = p + kAnnounceFixedBytes;
  for (const ChainEntry& e : a.chain) {
    endian::store_big_u64(U(at), e.version);
    endian::store_big_u64(U(at + 8), e.object_id);
    endian::store_big_u64(U(at + 16), e.back);
    endian::store_big_u64(U(at + 24), e.messages);
    at += kChainEntryBytes;
  }
  return out;
}

absl::StatusOr<VersionMessageKind> PeekVersionKind(absl::string_view message) {
  if (message.size() < kVersionHeaderBytes || std::memcmp(message.data(), kMagic, 4) != 0) {
    return absl::InvalidArgumentError("not a versions message (no CNVS header)");
  }
  if (static_cast<uint8_t>(message[4]) != kFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("versions message format ", static_cast<int>(message[4]), ", want 1"));
  }
  const auto kind = static_cast<uint8_t>(message[5]);
  if (kind != static_cast<uint8_t>(VersionMessageKind::kVersion) &&
      kind != static_cast<uint8_t>(VersionMessageKind::kAnnounce)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown versions message kind ", kind));
  }
  return static_cast<VersionMessageKind>(kind);
}

absl::StatusOr<VersionRecord> DecodeVersion(absl::string_view message) {
  absl::StatusOr<VersionMessageKind> kind = PeekVersionKind(message);
  if (!kind.ok()) return kind.status();
  if (*kind != VersionMessageKind::kVersion || message.size() < kVersionFixedBytes) {
    return absl::InvalidArgumentError("not a VERSION record");
  }
  const char* p = message.data();
  VersionRecord r;
  r.stream = endian::load_big_u64(U(p + 8));
  r.version = endian::load_big_u64(U(p + 16));
  r.object_id = endian::load_big_u64(U(p + 24));
  r.delta = (endian::load_big_u32(U(p + 32)) & kDeltaFlag) != 0;
  r.chunk_bytes = endian::load_big_u32(U(p + 36));
  r.size = endian::load_big_u64(U(p + 40));
  std::memcpy(r.sha256.data(), p + 48, 32);
  r.base_version = endian::load_big_u64(U(p + 80));
  std::memcpy(r.base_sha256.data(), p + 88, 32);
  const uint32_t chunks = endian::load_big_u32(U(p + 120));
  const uint32_t changed = endian::load_big_u32(U(p + 124));
  const uint32_t table = endian::load_big_u32(U(p + 128));
  if (r.chunk_bytes == 0 || r.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("chunk size ", r.chunk_bytes, " out of range"));
  }
  const uint64_t want = r.size / r.chunk_bytes + (r.size % r.chunk_bytes != 0);
  if (chunks != want || chunks > kMaxVersionChunks || changed > chunks || table > kMaxTableBytes) {
    return absl::InvalidArgumentError(absl::StrCat("VERSION record of ", r.size, " bytes lists ",
                                                   chunks, " chunks, ", changed,
                                                   " changed and a table of ", table, " bytes"));
  }
  if (message.size() != kVersionFixedBytes + 8ull * chunks + 4ull * changed + table) {
    return absl::InvalidArgumentError("VERSION record length does not match its counts");
  }
  const char* at = p + kVersionFixedBytes;
  r.chunk_hashes.resize(chunks);
  for (uint32_t i = 0; i < chunks; ++i, at += 8) r.chunk_hashes[i] = endian::load_big_u64(U(at));
  r.changed.resize(changed);
  for (uint32_t j = 0; j < changed; ++j, at += 4) {
    r.changed[j] = endian::load_big_u32(U(at));
    if (r.changed[j] >= chunks || (j > 0 && r.changed[j] <= r.changed[j - 1])) {
      return absl::InvalidArgumentError("VERSION record's changed chunks are not increasing");
    }
  }
  r.table.assign(at, table);
  if (!r.delta && changed != 0) {
    return absl::InvalidArgumentError("a whole version lists changed chunks");
  }
  return r;
}

absl::StatusOr<Announcement> DecodeAnnouncement(absl::string_view message) {
  absl::StatusOr<VersionMessageKind> kind = PeekVersionKind(message);
  if (!kind.ok()) return kind.status();
  if (*kind != VersionMessageKind::kAnnounce || message.size() < kAnnounceFixedBytes) {
    return absl::InvalidArgumentError("not an ANNOUNCE");
  }
  const char* p = message.data();
  Announcement a;
  a.stream = endian::load_big_u64(U(p + 8));
  a.version = endian::load_big_u64(U(p + 16));
  std::memcpy(a.sha256.data(), p + 24, 32);
  a.chunk_bytes = endian::load_big_u32(U(p + 56));
  if (a.chunk_bytes == 0 || a.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ANNOUNCE chunk size ", a.chunk_bytes));
  }
  const uint16_t n = endian::load_big_u16(U(p + 60));
  if (n == 0 || n > kMaxChainEntries ||
      message.size() != kAnnounceFixedBytes + kChainEntryBytes * n) {
    return absl::InvalidArgumentError(absl::StrCat("ANNOUNCE with ", n, " chain entries"));
  }
  const char* at = p + kAnnounceFixedBytes;
  for (uint16_t i = 0; i < n; ++i, at += kChainEntryBytes) {
    ChainEntry e;
    e.version = endian::load_big_u64(U(at));
    e.object_id = endian::load_big_u64(U(at + 8));
    e.back = endian::load_big_u64(U(at + 16));
    e.messages = endian::load_big_u64(U(at + 24));
    if (e.messages < 3 || e.back < e.messages) {
      return absl::InvalidArgumentError("ANNOUNCE chain entry that does not fit before it");
    }
    a.chain.push_back(e);
  }
  if (a.chain.back().version != a.version) {
    return absl::InvalidArgumentError("ANNOUNCE chain does not end at its version");
  }
  return a;
}

}  // namespace canopy
