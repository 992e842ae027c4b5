// VersionReceiver of canopy/versions.h.

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "canopy/versions.h"
#include "src/object_codec.h"
#include "src/version_codec.h"
#include "src/version_tap.h"
#include "xxhash.h"

namespace canopy {
namespace {

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// Versions one receive goes through to reach the latest (the longest chain
// an ANNOUNCE lists).
constexpr int kMaxCatchUp = kMaxChainEntries;

// Calls `fn(segment, offset in the segment, offset in [offset, offset +
// size), bytes)` for each piece of the range the segments hold.
template <typename Fn>
void ForEachPiece(const std::vector<Segment>& segments, uint64_t offset, uint64_t size, Fn fn) {
  auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                             [](uint64_t o, const Segment& s) { return o < s.offset; });
  if (it != segments.begin()) --it;
  const uint64_t end = offset + size;
  for (; it != segments.end() && it->offset < end; ++it) {
    const uint64_t from = std::max(offset, it->offset);
    const uint64_t to = std::min(end, it->offset + it->size);
    if (from < to) fn(*it, from - it->offset, from - offset, to - from);
  }
}

bool AllInMemory(const std::vector<Segment>& segments) {
  return std::all_of(segments.begin(), segments.end(),
                     [](const Segment& s) { return s.data != nullptr || s.size == 0; });
}

bool SameMemory(const std::vector<Segment>& a, const std::vector<Segment>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const Segment& x, const Segment& y) {
           return x.offset == y.offset && x.data == y.data && x.size == y.size;
         });
}

// XXH3-64 of bytes [offset, offset + size). REQUIRES: AllInMemory.
uint64_t HashRange(const std::vector<Segment>& segments, uint64_t offset, uint64_t size) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  ForEachPiece(segments, offset, size, [&](const Segment& s, uint64_t at, uint64_t, uint64_t n) {
    XXH3_64bits_update(state, s.data + at, n);
  });
  const uint64_t h = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return h;
}

// SHA-256 of all the segments in order. REQUIRES: AllInMemory.
Sha256 DigestOf(const std::vector<Segment>& segments) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  for (const Segment& s : segments) EVP_DigestUpdate(sha.get(), s.data, s.size);
  Sha256 digest{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha.get(), digest.data(), &len);
  return digest;
}

absl::Status CheckCovers(const std::vector<Segment>& segments, uint64_t size) {
  uint64_t at = 0;
  for (const Segment& s : segments) {
    if (s.offset != at) {
      return absl::InvalidArgumentError(absl::StrCat(
          "destination segments must cover the version in order: one starts at ", s.offset,
          ", want ", at));
    }
    at += s.size;
  }
  if (at != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("destination holds ", at, " bytes; the version has ", size));
  }
  return absl::OkStatus();
}

VersionInfo InfoOf(const VersionRecord& r, const std::string& source) {
  VersionInfo info;
  info.source = source;
  info.stream = r.stream;
  info.version = r.version;
  info.size = r.size;
  info.chunk_bytes = r.chunk_bytes;
  info.sha256_hex = HexDigest(r.sha256);
  info.table = r.table;
  info.delta = r.delta;
  info.base_version = r.base_version;
  return info;
}

}  // namespace

// The version held: where it lives and its chunks' hashes.
struct VersionReceiver::Held {
  VersionInfo info;
  Sha256 sha256{};
  std::vector<uint64_t> chunk_hashes;
  std::vector<Segment> segments;
};

// One object being received into a destination.
struct VersionReceiver::Attempt {
  VersionRecord record;
  std::string source;
  std::vector<Segment> segments;
  absl::Status destination_error;  // the caller's: returned as it is
  absl::Status error;              // the object's: a retry may do
  uint64_t received = 0;
  bool writing = false;
};

VersionReceiver::VersionReceiver(Subscriber& subscriber)
    : tap_(std::make_unique<VersionTap>(subscriber)) {}

VersionReceiver::~VersionReceiver() = default;

std::optional<VersionInfo> VersionReceiver::held() const {
  if (held_ == nullptr) return std::nullopt;
  return held_->info;
}

absl::StatusOr<ReceivedVersion> VersionReceiver::Receive(const ReceiveVersionOptions& options) {
  if (!options.destination) return absl::InvalidArgumentError("Receive needs a destination");
  const absl::Time called = absl::Now();
  const absl::Time deadline = options.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : called + options.timeout;
  uint64_t received_total = 0;
  int completed = 0;
  while (true) {
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) return absl::DeadlineExceededError(tap_->Waiting());
    Attempt attempt;
    auto write = [&](uint64_t offset, absl::string_view bytes) {
      ForEachPiece(attempt.segments, offset, bytes.size(),
                   [&](const Segment& s, uint64_t at, uint64_t from, uint64_t n) {
                     if (s.data != nullptr) {
                       std::memcpy(s.data + at, bytes.data() + from, n);
                     } else if (options.on_write) {
                       options.on_write(s.offset + at, bytes.substr(from, n));
                     }
                   });
    };
    ReceiveObjectOptions o;
    o.timeout = remaining;
    // Acknowledged below, once the version (not just its object) is verified.
    o.acknowledge = false;
    o.on_start = [&](const ObjectInfo& object) -> absl::Status {
      const VersionRecord* r = tap_->LastStarted();
      if (r == nullptr) return attempt.error = absl::InternalError("an object without a record");
      attempt.record = *r;
      attempt.source = tap_->LastStartedSource();
      const VersionRecord& rec = attempt.record;
      uint64_t want = rec.size;
      if (rec.delta) {
        want = 0;
        for (uint32_t i : rec.changed) want += rec.ChunkSize(i);
      }
      if (object.size != want || object.chunk_bytes != rec.chunk_bytes) {
        return attempt.error = absl::DataLossError(absl::StrCat(
                   "version ", rec.version, ": object of ", object.size,
                   " bytes does not match its record (", want, " bytes)"));
      }
      absl::StatusOr<std::vector<Segment>> dest =
          options.destination(InfoOf(rec, attempt.source));
      if (!dest.ok()) return attempt.destination_error = dest.status();
      if (absl::Status s = CheckCovers(*dest, rec.size); !s.ok()) {
        return attempt.destination_error = s;
      }
      attempt.segments = *std::move(dest);
      if (rec.delta) {
        // Admitted by the tap only on the version held; check that its bytes
        // are still what arrived, then bring them over if the memory differs.
        if (held_ == nullptr || held_->sha256 != rec.base_sha256 ||
            held_->chunk_hashes.size() != rec.chunk_hashes.size()) {
          return attempt.error = absl::FailedPreconditionError(
                     absl::StrCat("delta ", rec.version, " is not on the version held"));
        }
        const bool in_place = SameMemory(held_->segments, attempt.segments);
        if (!in_place && !(AllInMemory(held_->segments) && AllInMemory(attempt.segments))) {
          return attempt.destination_error = absl::FailedPreconditionError(
                     "a delta into other memory needs both the held version and the "
                     "destination in host memory");
        }
        if (AllInMemory(held_->segments)) {
          for (uint32_t i = 0; i < rec.chunk_count(); ++i) {
            const uint64_t at = uint64_t{i} * rec.chunk_bytes;
            if (HashRange(held_->segments, at, rec.ChunkSize(i)) != held_->chunk_hashes[i]) {
              held_.reset();
              tap_->SetHeld(std::nullopt);
              return attempt.error = absl::DataLossError(absl::StrCat(
                         "the version held was changed after it was received (chunk ", i,
                         "); fetching a whole version"));
            }
          }
        }
        attempt.writing = true;
        if (!in_place) {
          for (const Segment& s : held_->segments) {
            write(s.offset, absl::string_view(s.data, s.size));
          }
        }
        if (options.on_verified) {
          uint64_t from = 0;
          for (uint32_t i : rec.changed) {
            const uint64_t at = uint64_t{i} * rec.chunk_bytes;
            if (at > from) options.on_verified(from, at - from);
            from = at + rec.ChunkSize(i);
          }
          if (from < rec.size) options.on_verified(from, rec.size - from);
        }
      }
      attempt.writing = true;
      held_.reset();  // from here on the memory is between versions
      tap_->SetHeld(std::nullopt);
      tap_->SetAssembling(rec.object_id);
      return absl::OkStatus();
    };
    o.on_chunk = [&](uint64_t offset, absl::string_view bytes) {
      const VersionRecord& rec = attempt.record;
      const uint64_t j = offset / rec.chunk_bytes;
      if (!attempt.error.ok() || (rec.delta && j >= rec.changed.size())) {
        attempt.error = absl::DataLossError("a chunk outside its version");
        return;
      }
      const uint32_t i = rec.delta ? rec.changed[j] : static_cast<uint32_t>(j);
      if (i >= rec.chunk_count() || bytes.size() != rec.ChunkSize(i) ||
          ChunkHash(bytes) != rec.chunk_hashes[i]) {
        attempt.error = absl::DataLossError(absl::StrCat(
            "version ", rec.version, ": chunk ", i, " does not match the version's record"));
        return;
      }
      const uint64_t at = uint64_t{i} * rec.chunk_bytes;
      write(at, bytes);
      attempt.received += bytes.size();
      if (options.on_verified) options.on_verified(at, bytes.size());
    };

    ObjectReceiver objects(*tap_);
    absl::StatusOr<ReceivedObject> got = objects.ReceiveChunks(o);
    tap_->SetAssembling(0);
    if (!attempt.destination_error.ok()) return attempt.destination_error;
    const VersionRecord& rec = attempt.record;
    if (got.ok() && attempt.error.ok()) {
      if (!rec.delta && got->info.sha256_hex != HexDigest(rec.sha256)) {
        attempt.error = absl::DataLossError(
            absl::StrCat("version ", rec.version, ": SHA-256 differs from its record"));
      } else if (rec.delta && AllInMemory(attempt.segments) &&
                 DigestOf(attempt.segments) != rec.sha256) {
        attempt.error = absl::DataLossError(absl::StrCat(
            "version ", rec.version, ": SHA-256 after the patch differs from the publisher's"));
      }
    }
    if (got.ok() && attempt.error.ok()) {
      held_ = std::make_unique<Held>();
      held_->info = InfoOf(rec, attempt.source);
      held_->sha256 = rec.sha256;
      held_->chunk_hashes = rec.chunk_hashes;
      held_->segments = attempt.segments;
      tap_->SetHeld(HeldVersion{rec.stream, rec.version});
      // Best effort: a subscription that cannot acknowledge still holds it.
      tap_->Acknowledge(attempt.source, rec.object_id).IgnoreError();
      received_total += attempt.received;
      // Catching up: the latest version, not each one on the way; bounded,
      // so a publisher faster than this receiver does not keep it here.
      if (++completed < kMaxCatchUp && absl::Now() < deadline && tap_->Behind(deadline)) continue;
      ReceivedVersion out;
      out.info = held_->info;
      out.received_bytes = received_total;
      out.seconds = Seconds(absl::Now() - called);
      return out;
    }
    // Not received: what was written is no version any more.
    if (attempt.writing) {
      held_.reset();
      tap_->SetHeld(std::nullopt);
    }
    const absl::Status why = got.ok() ? attempt.error : got.status();
    if (absl::IsDeadlineExceeded(why)) return absl::DeadlineExceededError(tap_->Waiting());
    // A delta that turned out not to fit, or a version that arrived damaged:
    // look again (the tap fetches what the announcement says is missing).
    if (absl::Status fetch = tap_->TakeFetchError(); !fetch.ok()) return fetch;
    if (!attempt.error.ok() || absl::IsDataLoss(why)) continue;
    return why;
  }
}

}  // namespace canopy
