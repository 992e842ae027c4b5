#include "src/version_tap.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"
#include "src/object_codec.h"

namespace canopy {
namespace {

// A window asked for is asked again after this long without a message of
// it, at most kMaxFetches times in all. A window is half a node link's high
// watermark (wire/outbound_link.h).
constexpr absl::Duration kFetchAgainAfter = absl::Seconds(5);
constexpr int kMaxFetches = 4;
constexpr uint64_t kWindowBytes = 4u << 20;
// VERSION records kept (for objects in flight and the chain fetched).
constexpr size_t kMaxRecords = 256;
// Longest wait inside Next() before looking at due fetches again.
constexpr absl::Duration kSlice = absl::Seconds(1);
// How long a receiver that completed a version waits for the first
// announcement of its stream (publishers announce every second by default).
constexpr absl::Duration kConfirmWait = absl::Seconds(2);
// Messages closer together than this are a burst still arriving.
constexpr absl::Duration kBurstGap = absl::Milliseconds(20);

}  // namespace

const VersionRecord* VersionTap::LastStarted() const {
  auto it = records_.find(last_manifest_);
  return it == records_.end() ? nullptr : &it->second;
}

bool VersionTap::TakeVersionsMessage(const ReceivedMessage& m) {
  absl::StatusOr<VersionMessageKind> kind = PeekVersionKind(m.payload);
  if (!kind.ok()) return false;
  if (*kind == VersionMessageKind::kVersion) {
    absl::StatusOr<VersionRecord> r = DecodeVersion(m.payload);
    if (!r.ok()) return true;  // malformed: its object is never admitted
    auto key = std::make_pair(m.source, r->object_id);
    if (records_.emplace(key, *std::move(r)).second) {
      record_order_.push_back(key);
      if (record_order_.size() > kMaxRecords) {
        records_.erase(record_order_.front());
        admitted_.erase(record_order_.front().second);
        record_order_.pop_front();
      }
    }
    return true;
  }
  if (m.resent) return true;  // an old announcement says nothing new
  absl::StatusOr<Announcement> a = DecodeAnnouncement(m.payload);
  if (!a.ok()) return true;
  last_heard_stream_ = a->stream;
  latest_[a->stream] = Latest{m.source, *std::move(a), m.sequence};
  if (latest_.size() > 16) {  // streams of publishers long gone
    for (auto it = latest_.begin(); it != latest_.end(); ++it) {
      if (it->first != last_heard_stream_ && (!held_ || it->first != held_->stream)) {
        latest_.erase(it);
        break;
      }
    }
  }
  return true;
}

bool VersionTap::Admit(const VersionRecord& r) {
  if (held_ && r.stream == held_->stream && r.version <= held_->version) return false;
  if (admitted_.count(r.object_id) != 0) return true;
  if (r.delta &&
      !(held_ && held_->stream == r.stream && held_->version == r.base_version)) {
    return false;
  }
  admitted_.insert(r.object_id);
  return true;
}

std::optional<ReceivedMessage> VersionTap::Filter(ReceivedMessage m) {
  last_arrival_ = absl::Now();
  if (m.resent && m.source == fetch_.source && m.sequence >= fetch_.first &&
      m.sequence <= fetch_.last && m.sequence > fetch_.seen_to) {
    fetch_.seen_to = m.sequence;
    fetch_.at = absl::Now();
  }
  if (TakeVersionsMessage(m)) return std::nullopt;
  absl::StatusOr<ObjectMessageKind> kind = PeekKind(m.payload);
  if (!kind.ok()) return m;  // other traffic; the object receiver skips it
  const uint64_t id = boost::endian::load_big_u64(
      reinterpret_cast<const unsigned char*>(m.payload.data() + 8));
  auto record = records_.find({m.source, id});
  if (record == records_.end() || !Admit(record->second)) return std::nullopt;
  if (*kind == ObjectMessageKind::kManifest) {
    last_manifest_ = {m.source, id};
  } else if (assembling_ != id) {
    // The middle of an object no one is receiving (its MANIFEST went by
    // while another object was): ask for it from its MANIFEST, once.
    if (assembling_ == 0 && restarted_.insert(id).second) RestartObject(m, record->second, *kind);
    return std::nullopt;
  }
  last_passed_ = absl::Now();
  return m;
}

absl::StatusOr<ReceivedMessage> VersionTap::Next(absl::Duration timeout) {
  if (peeked_) {
    ReceivedMessage m = *std::move(peeked_);
    peeked_.reset();
    return m;
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (absl::Status s = MaybeFetch(); !s.ok()) return s;
    const absl::Time now = absl::Now();
    absl::StatusOr<ReceivedMessage> m = inner_.Next(std::min(deadline - now, kSlice));
    if (absl::IsDeadlineExceeded(m.status())) {
      if (absl::Now() >= deadline) return m.status();
      continue;
    }
    if (!m.ok()) return m.status();
    if (std::optional<ReceivedMessage> pass = Filter(*std::move(m))) return *std::move(pass);
  }
}

void VersionTap::RestartObject(const ReceivedMessage& m, const VersionRecord& r,
                               ObjectMessageKind kind) {
  const uint64_t chunks = r.delta ? r.changed.size() : r.chunk_count();
  uint64_t before = chunks + 1;  // an END: the MANIFEST and every chunk came first
  if (kind == ObjectMessageKind::kChunk) {
    absl::StatusOr<ChunkView> c = DecodeChunk(m.payload);
    if (!c.ok()) return;
    before = uint64_t{c->index} + 1;
  }
  if (m.sequence <= before) return;
  const uint64_t manifest = m.sequence - before;
  inner_.RequestResend(m.source, manifest, manifest + chunks + 1).IgnoreError();
  if (restarted_.size() > kMaxRecords) restarted_.erase(restarted_.begin());
}

bool VersionTap::PeekPassable() {
  while (!peeked_) {
    absl::StatusOr<ReceivedMessage> m = inner_.Next(absl::ZeroDuration());
    if (!m.ok()) return false;
    std::optional<ReceivedMessage> pass = Filter(*std::move(m));
    if (pass && PeekKind(pass->payload).ok()) peeked_ = std::move(pass);
  }
  return true;
}

absl::Status VersionTap::MaybeFetch() {
  if (!fetch_error_.ok()) return fetch_error_;
  const absl::Time now = absl::Now();
  const bool fetching = fetch_.object_id != 0 && fetch_.seen_to < fetch_.last;
  if (fetching) return ContinueFetch(now);
  if (assembling_ != 0) return absl::OkStatus();
  auto it = held_ ? latest_.find(held_->stream) : latest_.end();
  if (it == latest_.end()) it = latest_.find(last_heard_stream_);
  if (it == latest_.end()) return absl::OkStatus();
  const Latest& l = it->second;
  const Announcement& a = l.announcement;
  const bool same_stream = held_ && held_->stream == a.stream;
  if (same_stream && held_->version >= a.version) {
    fetch_ = Fetch{};
    return absl::OkStatus();
  }
  size_t next = 0;
  if (same_stream) {
    for (size_t k = 0; k < a.chain.size(); ++k) {
      if (a.chain[k].version == held_->version) next = k + 1;
    }
  }
  const ChainEntry& e = a.chain[next];
  if (l.sequence <= e.back) return absl::OkStatus();  // not a chain of this flow
  if (fetch_.object_id == e.object_id) {
    // All of it came back but it was not received (a chunk lost on the
    // way): the object receiver repairs it; ask again only after a silence.
    if (now - std::max(fetch_.at, last_passed_) < kFetchAgainAfter) return absl::OkStatus();
    fetch_.seen_to = fetch_.first - 1;
    return ContinueFetch(now);
  }
  fetch_ = Fetch{};
  fetch_.object_id = e.object_id;
  fetch_.version = e.version;
  fetch_.source = l.source;
  fetch_.first = l.sequence - e.back;
  fetch_.last = fetch_.first + e.messages - 1;
  fetch_.seen_to = fetch_.first - 1;
  fetch_.window = std::max<uint64_t>(1, kWindowBytes / a.chunk_bytes);
  return Ask(fetch_.first, now);
}

absl::Status VersionTap::ContinueFetch(absl::Time now) {
  if (fetch_.asked_to < fetch_.last && fetch_.seen_to >= fetch_.asked_to) {
    return Ask(fetch_.asked_to + 1, now);
  }
  if (now - std::max(fetch_.at, last_passed_) < kFetchAgainAfter) return absl::OkStatus();
  if (++fetch_.times >= kMaxFetches) {
    fetch_error_ = absl::DataLossError(absl::StrCat(
        "version ", fetch_.version, " of ", fetch_.source, ": messages from ",
        fetch_.seen_to + 1, " on were asked for ", fetch_.times,
        " times and did not come: no node holds them any more (give the publisher's node a "
        "larger --replay-mib, or push it whole)"));
    return fetch_error_;
  }
  return Ask(fetch_.seen_to + 1, now);
}

absl::Status VersionTap::Ask(uint64_t first, absl::Time now) {
  const uint64_t last = std::min(fetch_.last, first + fetch_.window - 1);
  fetch_.asked_to = std::max(fetch_.asked_to, last);
  fetch_.at = now;
  if (absl::Status s = inner_.RequestResend(fetch_.source, first, last); !s.ok()) {
    fetch_error_ = absl::FailedPreconditionError(absl::StrCat(
        "cannot fetch version ", fetch_.version, " of ", fetch_.source, ": ", s.message()));
    return fetch_error_;
  }
  return absl::OkStatus();
}

bool VersionTap::Behind(absl::Time deadline) {
  if (!held_) return false;
  const absl::Time until = std::min(deadline, absl::Now() + kConfirmWait);
  while (true) {
    if (PeekPassable()) return true;
    auto it = latest_.find(held_->stream);
    const absl::Time now = absl::Now();
    if (it != latest_.end()) {
      if (it->second.announcement.version > held_->version) return true;
      // Messages still pouring in (a node replaying the flow's history to
      // a new subscriber, old announcements included): look a moment
      // longer before calling the held version the latest.
      if (now - last_arrival_ >= kBurstGap || now >= until) return false;
      TakeOne(std::min(until, now + kBurstGap));
      continue;
    }
    if (now >= until) return false;
    TakeOne(until);
  }
}

void VersionTap::TakeOne(absl::Time until) {
  absl::StatusOr<ReceivedMessage> m = inner_.Next(std::min(until - absl::Now(), kSlice));
  if (!m.ok()) return;
  std::optional<ReceivedMessage> pass = Filter(*std::move(m));
  if (pass && PeekKind(pass->payload).ok()) peeked_ = std::move(pass);
}

absl::Status VersionTap::TakeFetchError() {
  absl::Status s = fetch_error_;
  if (!s.ok()) {
    fetch_error_ = absl::OkStatus();
    fetch_ = Fetch{};
  }
  return s;
}

std::string VersionTap::Waiting() const {
  auto it = held_ ? latest_.find(held_->stream) : latest_.end();
  if (it == latest_.end()) it = latest_.find(last_heard_stream_);
  if (it == latest_.end()) {
    return held_ ? absl::StrCat("no version newer than ", held_->version, " arrived in time")
                 : std::string("no version arrived in time (none was announced)");
  }
  return absl::StrCat("version ", it->second.announcement.version, " of ", it->second.source,
                      " did not arrive in time",
                      fetch_.times > 0 ? absl::StrCat(" (asked the nodes ", fetch_.times,
                                                      " times)")
                                       : std::string());
}

}  // namespace canopy
