// ObjectReceiver of canopy/object.h.

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/stripe_source.h"
#include "canopy/object.h"
#include "src/object_codec.h"
#include "wire/string_resize.h"

namespace canopy {
namespace {

// How long a resend may take before it is asked for again, and how often.
constexpr absl::Duration kResendAfter = absl::Seconds(2);
constexpr int kMaxResendRounds = 5;
// Messages asked for again and not yet back, at most: more missing ones
// are asked for once these arrive, so a sender that skips far ahead costs
// a bounded amount of bookkeeping.
constexpr size_t kMaxOutstandingAsks = 4096;

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// Who sent a message: its publisher and, for a striped publisher, which of
// its stripes (base/stripe_source.h); an unstriped one is stripe 0 of 1.
struct Sender {
  std::string base;
  int stripe = 0;
  int stripes = 1;
};

Sender SenderOf(const std::string& source) {
  if (std::optional<Stripe> s = ParseStripe(source)) return Sender{s->base, s->index, s->count};
  return Sender{source, 0, 1};
}

// One object being assembled. Chunk i travels on stripe i % k as that
// stripe's (i / k)-th chunk, right after the stripe's own manifest, and
// every stripe ends with the END message.
class Assembly {
 public:
  Assembly(ObjectManifest manifest, const std::string& source)
      : m_(std::move(manifest)),
        sender_(SenderOf(source)),
        stripes_(sender_.stripes),
        landed_(m_.chunk_count, false),
        sha_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    for (int s = 0; s < sender_.stripes; ++s) {
      stripes_[s].source =
          sender_.stripes == 1 ? sender_.base : StripeSourceId(sender_.base, s, sender_.stripes);
    }
    EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr);
  }

  const ObjectManifest& manifest() const { return m_; }
  const std::string& publisher() const { return sender_.base; }
  int stripe_count() const { return sender_.stripes; }
  const std::string& StripeSource(int s) const { return stripes_[s].source; }
  // True if `sender` is one of this object's stripes.
  bool FromUs(const Sender& sender) const {
    return sender.base == sender_.base && sender.stripes == sender_.stripes;
  }

  // Learns where stripe `s` starts: from its manifest's sequence, or from a
  // chunk's (its manifest came that many messages earlier).
  void SawManifest(int s, uint64_t sequence) {
    if (!stripes_[s].manifest_sequence) stripes_[s].manifest_sequence = sequence;
  }
  void SawChunk(int s, uint32_t index, uint64_t sequence) {
    SawManifest(s, sequence - 1 - index / sender_.stripes);
  }
  // Records a first-time (not resent) message of stripe `s`; true if it
  // jumped past messages that never came.
  bool Advance(int s, uint64_t sequence, uint64_t missed_before) {
    StripeState& st = stripes_[s];
    const bool jump = (st.highest != 0 && sequence > st.highest + 1) || missed_before > 0 ||
                      (st.highest == 0 && st.manifest_sequence && sequence > *st.manifest_sequence);
    st.highest = std::max(st.highest, sequence);
    return jump;
  }

  // Where chunk `index` / stripe `s`'s END sits in its stripe, once known.
  std::optional<uint64_t> SequenceOfChunk(uint32_t index) const {
    const StripeState& st = stripes_[index % sender_.stripes];
    if (!st.manifest_sequence) return std::nullopt;
    return *st.manifest_sequence + 1 + index / sender_.stripes;
  }
  std::optional<uint64_t> EndSequence(int s) const {
    if (!stripes_[s].manifest_sequence) return std::nullopt;
    const uint32_t k = static_cast<uint32_t>(sender_.stripes);
    const uint32_t chunks =
        m_.chunk_count > static_cast<uint32_t>(s) ? (m_.chunk_count - s + k - 1) / k : 0;
    return *stripes_[s].manifest_sequence + 1 + chunks;
  }
  uint64_t highest(int s) const { return stripes_[s].highest; }

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
  struct StripeState {
    std::string source;
    std::optional<uint64_t> manifest_sequence;  // unknown until seen
    uint64_t highest = 0;                       // highest first-time sequence
  };

  const ObjectManifest m_;
  const Sender sender_;
  std::vector<StripeState> stripes_;
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
using AskKey = std::pair<int, uint64_t>;  // (stripe, sequence)

// Per stripe, sequence ranges [first, last] of what is missing below the
// stripe's highest sequence and due to be asked for: never asked, or asked
// kResendAfter ago while nothing else arrived since either (a long resend
// still flowing is not doubled). New asks stop at kMaxOutstandingAsks in
// all. Looks only at chunks up to each stripe's highest sequence, so the
// cost follows what arrived, not what the manifest announced.
struct MissingRange {
  int stripe;
  uint64_t first, last;
};
std::vector<MissingRange> MissingRanges(const Assembly& a, absl::Time now, absl::Time end_wait,
                                        absl::Time last_progress,
                                        const std::map<AskKey, Ask>& asked) {
  std::vector<MissingRange> ranges;
  size_t new_asks = 0;
  auto add = [&](int stripe, uint64_t seq) {
    auto it = asked.find({stripe, seq});
    if (it != asked.end() &&
        (now - it->second.at < kResendAfter || now - last_progress < kResendAfter)) {
      return;
    }
    if (it == asked.end()) {
      if (asked.size() + new_asks >= kMaxOutstandingAsks) return;
      ++new_asks;
    }
    if (!ranges.empty() && ranges.back().stripe == stripe && ranges.back().last + 1 == seq) {
      ranges.back().last = seq;
    } else {
      ranges.push_back({stripe, seq, seq});
    }
  };
  const int k = a.stripe_count();
  for (int s = 0; s < k; ++s) {
    for (uint32_t i = s; i < a.manifest().chunk_count; i += k) {
      std::optional<uint64_t> seq = a.SequenceOfChunk(i);
      if (!seq || *seq > a.highest(s)) break;  // later chunks of the stripe are later still
      if (!a.landed(i)) add(s, *seq);
    }
  }
  // The END message: missing if a stripe went past it, or if every chunk is
  // here and it still has not come after a while (asked of stripe 0).
  if (!a.has_end()) {
    bool past = false;
    for (int s = 0; s < k && !past; ++s) {
      std::optional<uint64_t> end = a.EndSequence(s);
      if (end && *end <= a.highest(s)) {
        add(s, *end);
        past = true;
      }
    }
    if (!past && a.landed_count() == a.manifest().chunk_count && now >= end_wait) {
      for (int s = 0; s < k; ++s) {
        if (std::optional<uint64_t> end = a.EndSequence(s)) {
          add(s, *end);
          break;
        }
      }
    }
  }
  return ranges;
}

// Sizes `data` for an object of `size` bytes without touching its pages
// (chunks overwrite every byte). ResourceExhausted if memory runs out.
absl::Status GrowForObject(std::string& data, uint64_t size) {
  try {
    wire::ResizeForOverwrite(data, size);
  } catch (const std::exception&) {  // bad_alloc, length_error
    return absl::ResourceExhaustedError(
        absl::StrCat("no memory for an object of ", size, " bytes"));
  }
  return absl::OkStatus();
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
  // Late join: when each stripe (by source) was asked for its manifest, per
  // object id.
  std::map<std::pair<std::string, uint64_t>, absl::Time> asked_start;
  absl::Time next_repair = absl::InfiniteFuture(), end_wait = absl::InfiniteFuture();
  absl::Time last_progress = absl::InfinitePast();
  std::map<AskKey, Ask> asked;
  auto is_done = [this](const std::string& publisher, uint64_t id) {
    return std::find(done_.begin(), done_.end(), std::make_pair(publisher, id)) != done_.end();
  };

  while (true) {
    const absl::Time now = absl::Now();
    if (a && a->complete()) {
      Sha256 actual;
      done_.push_back({a->publisher(), a->manifest().object_id});
      if (!a->DigestMatches(actual)) {
        return absl::DataLossError(absl::StrCat("object ", a->manifest().name,
                                                ": SHA-256 of what arrived is ", HexDigest(actual),
                                                ", the sender's differs"));
      }
      ReceivedObject r;
      const ObjectManifest& m = a->manifest();
      r.info = ObjectInfo{m.name, m.size, m.chunk_bytes, m.chunk_count, HexDigest(actual)};
      r.source = a->publisher();
      r.object_id = m.object_id;
      r.seconds = Seconds(now - started);
      if (options.acknowledge) {
        // Best effort: a subscription that cannot acknowledge still received it.
        subscriber_.Acknowledge(a->StripeSource(0), m.object_id).IgnoreError();
      }
      r.first_byte_seconds =
          Seconds((first_byte == absl::InfiniteFuture() ? now : first_byte) - called);
      return r;
    }
    if (a && now >= next_repair) {
      std::vector<MissingRange> missing = MissingRanges(*a, now, end_wait, last_progress, asked);
      for (const MissingRange& r : missing) {
        for (uint64_t seq = r.first; seq <= r.last; ++seq) {
          Ask& ask = asked[{r.stripe, seq}];
          ask.at = now;
          if (++ask.times > kMaxResendRounds) {
            return absl::DataLossError(absl::StrCat("object ", a->manifest().name, ": message ",
                                                    seq, " of ", a->StripeSource(r.stripe),
                                                    " could not be fetched again"));
          }
        }
      }
      for (const MissingRange& r : missing) {
        if (absl::Status s = subscriber_.RequestResend(a->StripeSource(r.stripe), r.first, r.last);
            !s.ok()) {
          return absl::DataLossError(
              absl::StrCat("object ", a->manifest().name,
                           ": lost messages and cannot ask for them again: ", s.message()));
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
    // From the clock as it is now: the repair above took time too.
    absl::StatusOr<ReceivedMessage> msg =
        subscriber_.Next(std::min(deadline, std::min(next_repair, end_wait)) - absl::Now());
    if (absl::IsDeadlineExceeded(msg.status())) {
      if (a && absl::Now() >= end_wait && next_repair == absl::InfiniteFuture()) {
        next_repair = absl::Now();  // every chunk is here; fetch the END
      }
      continue;
    }
    if (!msg.ok()) return msg.status();
    absl::StatusOr<ObjectMessageKind> kind = PeekKind(msg->payload);
    if (!kind.ok()) continue;  // not an object message: someone else's traffic
    const Sender sender = SenderOf(msg->source);

    if (!a) {
      if (*kind != ObjectMessageKind::kManifest) {
        // The middle of an object: ask this stripe for it from its
        // manifest, once.
        absl::StatusOr<ChunkView> c = DecodeChunk(msg->payload);
        if (!c.ok() || is_done(sender.base, c->object_id)) continue;
        const uint64_t behind = c->index / sender.stripes + 1;  // messages since the manifest
        if (msg->sequence <= behind) continue;
        auto key = std::make_pair(msg->source, c->object_id);
        if (asked_start.count(key) == 0) {
          asked_start[key] = absl::Now();
          subscriber_.RequestResend(msg->source, msg->sequence - behind, msg->sequence - 1)
              .IgnoreError();
        }
        continue;
      }
      absl::StatusOr<ObjectManifest> m = DecodeManifest(msg->payload);
      if (!m.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("object manifest from ", msg->source, ": ", m.status().message()));
      }
      if (is_done(sender.base, m->object_id)) continue;
      if (m->size > options.max_object_bytes) {
        done_.push_back({sender.base, m->object_id});
        return absl::ResourceExhaustedError(
            absl::StrCat("object ", m->name, " from ", sender.base, " is ", m->size,
                         " bytes; this receiver takes at most ", options.max_object_bytes));
      }
      if (use_buffer && grow_into == nullptr && m->size > buffer.size()) {
        done_.push_back({sender.base, m->object_id});
        return absl::FailedPreconditionError(absl::StrCat(
            "object ", m->name, " is ", m->size, " bytes; the buffer holds ", buffer.size()));
      }
      ObjectInfo info{m->name, m->size, m->chunk_bytes, m->chunk_count, ""};
      if (options.on_start) {
        if (absl::Status s = options.on_start(info); !s.ok()) {
          done_.push_back({sender.base, m->object_id});
          return s;
        }
      }
      if (grow_into != nullptr) {
        if (absl::Status s = GrowForObject(*grow_into, m->size); !s.ok()) {
          done_.push_back({sender.base, m->object_id});
          return s;
        }
        buffer = absl::Span<char>(grow_into->data(), grow_into->size());
      }
      started = absl::Now();
      a.emplace(*std::move(m), msg->source);
      a->SawManifest(sender.stripe, msg->sequence);
      a->Advance(sender.stripe, msg->sequence, 0);
      // Anything already seen past the manifest (a late join) is missing.
      next_repair = absl::Now();
      if (a->manifest().chunk_count == 0) end_wait = absl::Now() + kResendAfter;
      continue;
    }

    if (!a->FromUs(sender)) continue;
    if (*kind == ObjectMessageKind::kManifest) {
      // Another stripe's copy of the manifest: where that stripe starts.
      absl::StatusOr<ObjectManifest> m = DecodeManifest(msg->payload);
      if (m.ok() && m->object_id == a->manifest().object_id) {
        a->SawManifest(sender.stripe, msg->sequence);
        if (!msg->resent && a->Advance(sender.stripe, msg->sequence, msg->missed_before)) {
          next_repair = std::min(next_repair, absl::Now());
        }
      }
      continue;  // or a later object's manifest
    }
    if (*kind == ObjectMessageKind::kEnd) {
      absl::StatusOr<std::pair<uint64_t, Sha256>> end = DecodeEnd(msg->payload);
      if (end.ok() && end->first == a->manifest().object_id) {
        a->SetEnd(end->second);
        asked.erase({sender.stripe, msg->sequence});
        if (!msg->resent && a->Advance(sender.stripe, msg->sequence, msg->missed_before)) {
          next_repair = std::min(next_repair, absl::Now());
        }
      }
      continue;
    }
    absl::StatusOr<ChunkView> c = DecodeChunk(msg->payload);
    if (!c.ok() || c->object_id != a->manifest().object_id) continue;
    if (c->index >= a->manifest().chunk_count ||
        c->data.size() != a->manifest().ChunkSize(c->index) ||
        static_cast<int>(c->index % a->stripe_count()) != sender.stripe ||
        msg->sequence <= c->index / a->stripe_count() + 1) {
      return absl::DataLossError(absl::StrCat("object ", a->manifest().name, ": chunk ", c->index,
                                              " of ", msg->source, " has ", c->data.size(),
                                              " bytes or a place the manifest disagrees with"));
    }
    a->SawChunk(sender.stripe, c->index, msg->sequence);
    // A jump: messages in between were lost, or skipped before the manifest
    // came (a late join). Either way they are missing now.
    if (!msg->resent && a->Advance(sender.stripe, msg->sequence, msg->missed_before)) {
      next_repair = std::min(next_repair, absl::Now());
    }
    if (a->landed(c->index)) continue;  // a duplicate resend
    if (ChunkHash(c->data) != c->xxh3) {
      // Corrupted on the way: never delivered; asked for again.
      next_repair = std::min(next_repair, absl::Now());
      continue;
    }
    if (first_byte == absl::InfiniteFuture()) first_byte = absl::Now();
    last_progress = absl::Now();
    asked.erase({sender.stripe, msg->sequence});
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
