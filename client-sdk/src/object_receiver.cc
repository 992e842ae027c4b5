// ObjectReceiver of canopy/object.h.

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/object.h"
#include "src/object_codec.h"

namespace canopy {
namespace {

// How long a resend may take before it is asked for again, and how often.
constexpr absl::Duration kResendAfter = absl::Seconds(2);
constexpr int kMaxResendRounds = 5;

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// One object being assembled.
class Assembly {
 public:
  Assembly(ObjectManifest manifest, std::string source, uint64_t manifest_sequence)
      : m_(std::move(manifest)),
        source_(std::move(source)),
        manifest_sequence_(manifest_sequence),
        landed_(m_.chunk_count, false),
        sha_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr);
  }

  const ObjectManifest& manifest() const { return m_; }
  const std::string& source() const { return source_; }
  uint64_t SequenceOfChunk(uint32_t index) const { return manifest_sequence_ + 1 + index; }
  uint64_t EndSequence() const { return manifest_sequence_ + 1 + m_.chunk_count; }
  bool complete() const { return landed_count_ == m_.chunk_count && end_.has_value(); }
  uint32_t landed_count() const { return landed_count_; }
  bool landed(uint32_t index) const { return landed_[index]; }
  void SetEnd(const Sha256& digest) { end_ = digest; }
  bool has_end() const { return end_.has_value(); }

  // Places a verified chunk: into `buffer` if given (then `bytes` are the
  // buffer's), else into the digest directly or held until its turn.
  // Returns the bytes the chunk callback should see.
  absl::string_view Land(uint32_t index, absl::string_view data, absl::Span<char> buffer,
                         bool use_buffer) {
    landed_[index] = true;
    ++landed_count_;
    const uint64_t offset = static_cast<uint64_t>(index) * m_.chunk_bytes;
    absl::string_view landed = data;
    if (use_buffer) {
      std::memcpy(buffer.data() + offset, data.data(), data.size());
      landed = absl::string_view(buffer.data() + offset, data.size());
      while (sha_next_ < m_.chunk_count && landed_[sha_next_]) {
        const uint64_t at = static_cast<uint64_t>(sha_next_) * m_.chunk_bytes;
        EVP_DigestUpdate(sha_.get(), buffer.data() + at, m_.ChunkSize(sha_next_));
        ++sha_next_;
      }
    } else if (index == sha_next_) {
      EVP_DigestUpdate(sha_.get(), data.data(), data.size());
      ++sha_next_;
      for (auto it = held_.find(sha_next_); it != held_.end(); it = held_.find(sha_next_)) {
        EVP_DigestUpdate(sha_.get(), it->second.data(), it->second.size());
        held_.erase(it);
        ++sha_next_;
      }
    } else {
      held_.emplace(index, std::string(data));
    }
    return landed;
  }

  // True if the digest of what landed equals the sender's.
  bool DigestMatches(Sha256& actual) {
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_.get(), actual.data(), &len);
    return actual == *end_;
  }

 private:
  const ObjectManifest m_;
  const std::string source_;
  const uint64_t manifest_sequence_;
  std::vector<bool> landed_;
  uint32_t landed_count_ = 0;
  std::optional<Sha256> end_;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha_;
  uint32_t sha_next_ = 0;                 // next chunk the digest needs
  std::map<uint32_t, std::string> held_;  // chunks ahead of it (no buffer)
};

// When a message was asked for again, and how often.
struct Ask {
  absl::Time at;
  int times = 0;
};

// Sequence ranges [first, last] of what is missing below `highest` and due
// to be asked for: never asked, or asked kResendAfter ago while nothing
// else arrived since either (a long resend still flowing is not doubled).
std::vector<std::pair<uint64_t, uint64_t>> MissingRanges(const Assembly& a, uint64_t highest,
                                                         absl::Time now, absl::Time end_wait,
                                                         absl::Time last_progress,
                                                         const std::map<uint64_t, Ask>& asked) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  auto add = [&](uint64_t seq) {
    auto it = asked.find(seq);
    if (it != asked.end() &&
        (now - it->second.at < kResendAfter || now - last_progress < kResendAfter)) {
      return;
    }
    if (!ranges.empty() && ranges.back().second + 1 == seq) {
      ranges.back().second = seq;
    } else {
      ranges.push_back({seq, seq});
    }
  };
  for (uint32_t i = 0; i < a.manifest().chunk_count; ++i) {
    if (!a.landed(i) && a.SequenceOfChunk(i) <= highest) add(a.SequenceOfChunk(i));
  }
  // The END message: missing if later messages came, or if every chunk is
  // here and it still has not come after a while.
  if (!a.has_end() && (a.EndSequence() <= highest ||
                       (a.landed_count() == a.manifest().chunk_count && now >= end_wait))) {
    add(a.EndSequence());
  }
  return ranges;
}

}  // namespace

absl::StatusOr<ReceivedObject> ObjectReceiver::ReceiveInto(absl::Span<char> buffer,
                                                           const ReceiveObjectOptions& options) {
  return Run(buffer, /*use_buffer=*/true, options, nullptr);
}

absl::StatusOr<ReceivedObject> ObjectReceiver::ReceiveChunks(const ReceiveObjectOptions& options) {
  if (!options.on_chunk) return absl::InvalidArgumentError("ReceiveChunks needs on_chunk");
  return Run({}, /*use_buffer=*/false, options, nullptr);
}

absl::StatusOr<std::pair<ReceivedObject, std::string>> ObjectReceiver::Receive(
    const ReceiveObjectOptions& options) {
  std::string data;
  absl::StatusOr<ReceivedObject> r = Run({}, /*use_buffer=*/true, options, &data);
  if (!r.ok()) return r.status();
  return std::make_pair(*std::move(r), std::move(data));
}

absl::StatusOr<ReceivedObject> ObjectReceiver::Run(absl::Span<char> buffer, bool use_buffer,
                                                   const ReceiveObjectOptions& options,
                                                   std::string* grow_into) {
  const absl::Time called = absl::Now();
  const absl::Time deadline = options.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : called + options.timeout;
  std::optional<Assembly> a;
  absl::Time started, first_byte = absl::InfiniteFuture();
  uint64_t highest = 0;  // highest first-time sequence seen from the source
  // Late join: the sequence asked for to get the manifest, per (source, id).
  std::map<std::pair<std::string, uint64_t>, absl::Time> asked_start;
  absl::Time next_repair = absl::InfiniteFuture(), end_wait = absl::InfiniteFuture();
  absl::Time last_progress = absl::InfinitePast();
  std::map<uint64_t, Ask> asked;
  auto is_done = [this](const std::string& source, uint64_t id) {
    return std::find(done_.begin(), done_.end(), std::make_pair(source, id)) != done_.end();
  };

  while (true) {
    const absl::Time now = absl::Now();
    if (a && a->complete()) {
      Sha256 actual;
      done_.push_back({a->source(), a->manifest().object_id});
      if (!a->DigestMatches(actual)) {
        return absl::DataLossError(absl::StrCat("object ", a->manifest().name,
                                                ": SHA-256 of what arrived is ", HexDigest(actual),
                                                ", the sender's differs"));
      }
      ReceivedObject r;
      const ObjectManifest& m = a->manifest();
      r.info = ObjectInfo{m.name, m.size, m.chunk_bytes, m.chunk_count, HexDigest(actual)};
      r.source = a->source();
      r.seconds = Seconds(now - started);
      r.first_byte_seconds =
          Seconds((first_byte == absl::InfiniteFuture() ? now : first_byte) - called);
      return r;
    }
    if (a && now >= next_repair) {
      std::vector<std::pair<uint64_t, uint64_t>> missing =
          MissingRanges(*a, highest, now, end_wait, last_progress, asked);
      for (const auto& [first, last] : missing) {
        for (uint64_t seq = first; seq <= last; ++seq) {
          Ask& ask = asked[seq];
          ask.at = now;
          if (++ask.times > kMaxResendRounds) {
            return absl::DataLossError(absl::StrCat("object ", a->manifest().name, ": message ",
                                                    seq, " of ", a->source(),
                                                    " could not be fetched again"));
          }
        }
      }
      {
        for (const auto& [first, last] : missing) {
          if (absl::Status s = subscriber_.RequestResend(a->source(), first, last); !s.ok()) {
            return absl::DataLossError(absl::StrCat("object ", a->manifest().name,
                                                    ": lost messages and cannot ask for them "
                                                    "again: ",
                                                    s.message()));
          }
        }
      }
      // Look again while anything asked for is still missing.
      next_repair = asked.empty() && missing.empty() ? absl::InfiniteFuture() : now + kResendAfter;
    }
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          a ? absl::StrCat("object ", a->manifest().name, ": ", a->landed_count(), " of ",
                           a->manifest().chunk_count, " chunks arrived in time")
            : std::string("no object arrived in time"));
    }
    absl::StatusOr<ReceivedMessage> msg =
        subscriber_.Next(std::min(deadline, std::min(next_repair, end_wait)) - now);
    if (absl::IsDeadlineExceeded(msg.status())) {
      if (a && absl::Now() >= end_wait && next_repair == absl::InfiniteFuture()) {
        next_repair = absl::Now();  // every chunk is here; fetch the END
      }
      continue;
    }
    if (!msg.ok()) return msg.status();
    absl::StatusOr<ObjectMessageKind> kind = PeekKind(msg->payload);
    if (!kind.ok()) continue;  // not an object message: someone else's traffic

    if (!a) {
      if (*kind != ObjectMessageKind::kManifest) {
        // The middle of an object: ask for it from its beginning, once.
        absl::StatusOr<ChunkView> c = DecodeChunk(msg->payload);
        if (!c.ok() || is_done(msg->source, c->object_id) || msg->sequence <= c->index + 1) {
          continue;
        }
        auto key = std::make_pair(msg->source, c->object_id);
        if (asked_start.count(key) == 0) {
          asked_start[key] = absl::Now();
          const uint64_t manifest_sequence = msg->sequence - c->index - 1;
          subscriber_.RequestResend(msg->source, manifest_sequence, msg->sequence - 1)
              .IgnoreError();
        }
        continue;
      }
      absl::StatusOr<ObjectManifest> m = DecodeManifest(msg->payload);
      if (!m.ok() || is_done(msg->source, m->object_id)) continue;
      if (use_buffer && grow_into == nullptr && m->size > buffer.size()) {
        done_.push_back({msg->source, m->object_id});
        return absl::FailedPreconditionError(absl::StrCat(
            "object ", m->name, " is ", m->size, " bytes; the buffer holds ", buffer.size()));
      }
      ObjectInfo info{m->name, m->size, m->chunk_bytes, m->chunk_count, ""};
      if (options.on_start) {
        if (absl::Status s = options.on_start(info); !s.ok()) {
          done_.push_back({msg->source, m->object_id});
          return s;
        }
      }
      if (grow_into != nullptr) {
        grow_into->resize(m->size);
        buffer = absl::Span<char>(grow_into->data(), grow_into->size());
      }
      started = absl::Now();
      a.emplace(*std::move(m), msg->source, msg->sequence);
      highest = msg->sequence;
      // Anything already seen past the manifest (a late join) is missing.
      next_repair = absl::Now();
      if (a->manifest().chunk_count == 0) end_wait = absl::Now() + kResendAfter;
      continue;
    }

    if (msg->source != a->source()) continue;
    if (!msg->resent) {
      // A jump: messages in between were lost, or skipped before the
      // manifest came (a late join). Either way they are missing now.
      if (msg->sequence > highest + 1 || msg->missed_before > 0) {
        next_repair = std::min(next_repair, absl::Now());
      }
      highest = std::max(highest, msg->sequence);
    }
    if (*kind == ObjectMessageKind::kEnd) {
      absl::StatusOr<std::pair<uint64_t, Sha256>> end = DecodeEnd(msg->payload);
      if (end.ok() && end->first == a->manifest().object_id) {
        a->SetEnd(end->second);
        asked.erase(msg->sequence);
      }
      continue;
    }
    if (*kind != ObjectMessageKind::kChunk) continue;  // a later object's manifest
    absl::StatusOr<ChunkView> c = DecodeChunk(msg->payload);
    if (!c.ok() || c->object_id != a->manifest().object_id) continue;
    if (c->index >= a->manifest().chunk_count ||
        c->data.size() != a->manifest().ChunkSize(c->index)) {
      return absl::DataLossError(absl::StrCat("object ", a->manifest().name, ": chunk ", c->index,
                                              " has ", c->data.size(),
                                              " bytes; the manifest disagrees"));
    }
    if (a->landed(c->index)) continue;  // a duplicate resend
    if (ChunkHash(c->data) != c->xxh3) {
      // Corrupted on the way: never delivered; asked for again.
      next_repair = std::min(next_repair, absl::Now());
      continue;
    }
    if (first_byte == absl::InfiniteFuture()) first_byte = absl::Now();
    last_progress = absl::Now();
    asked.erase(msg->sequence);
    absl::string_view landed = a->Land(c->index, c->data, buffer, use_buffer);
    if (options.on_chunk) {
      options.on_chunk(static_cast<uint64_t>(c->index) * a->manifest().chunk_bytes, landed);
    }
    if (a->landed_count() == a->manifest().chunk_count && !a->has_end()) {
      end_wait = absl::Now() + kResendAfter;
    }
  }
}

}  // namespace canopy
