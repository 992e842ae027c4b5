// VersionPublisher of canopy/versions.h.

#include <openssl/evp.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "canopy/versions.h"
#include "src/object_codec.h"
#include "src/version_codec.h"

namespace canopy {
namespace {


uint64_t RandomId() {
  std::random_device entropy;
  uint64_t id = 0;
  while (id == 0) id = (static_cast<uint64_t>(entropy()) << 32) | entropy();
  return id;
}

Sha256 DigestOf(absl::string_view data) {
  Sha256 digest{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace

// One object of the chain a late joiner fetches: where its VERSION record
// is among the messages sent, and how many messages it spans.
struct VersionPublisher::Sent {
  uint64_t version = 0;
  uint64_t object_id = 0;
  uint64_t first_message = 0;  // 1-based count of the VERSION record
  uint64_t messages = 0;
};

absl::StatusOr<std::unique_ptr<VersionPublisher>> VersionPublisher::Open(
    PublisherOptions publisher, VersionPublisherOptions options) {
  absl::StatusOr<std::unique_ptr<Publisher>> p = Publisher::Open(std::move(publisher));
  if (!p.ok()) return p.status();
  return Open(*std::move(p), options);
}

absl::StatusOr<std::unique_ptr<VersionPublisher>> VersionPublisher::Open(
    std::unique_ptr<Publisher> publisher, VersionPublisherOptions options) {
  if (options.chunk_bytes < kMinChunkBytes || options.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be ", kMinChunkBytes, "..", kMaxChunkBytes, " bytes"));
  }
  if (options.max_chain < 1 || options.max_chain >= kMaxChainEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_chain must be 1..", kMaxChainEntries - 1));
  }
  if (options.announce_every < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError("announce_every must be at least 10 ms");
  }
  return std::unique_ptr<VersionPublisher>(new VersionPublisher(std::move(publisher), options));
}

VersionPublisher::VersionPublisher(std::unique_ptr<Publisher> publisher,
                                   VersionPublisherOptions options)
    : options_(options), stream_(RandomId()), publisher_(std::move(publisher)) {
  announcer_ = std::thread([this] { AnnounceLoop(); });
}

VersionPublisher::~VersionPublisher() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  if (announcer_.joinable()) announcer_.join();
}

uint64_t VersionPublisher::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

absl::Status VersionPublisher::SendCounted(absl::string_view message) {
  absl::Status s = publisher_->Send(message);
  if (!s.ok()) {
    broken_ = s;
    return s;
  }
  ++messages_;
  return s;
}

absl::Status VersionPublisher::Announce() {
  Announcement a;
  a.stream = stream_;
  a.version = version_;
  std::copy(sha256_.begin(), sha256_.end(), a.sha256.begin());
  a.chunk_bytes = options_.chunk_bytes;
  const uint64_t at = messages_ + 1;  // the ANNOUNCE itself
  for (const auto& sent : chain_) {
    a.chain.push_back({sent->version, sent->object_id, at - sent->first_message, sent->messages});
  }
  return SendCounted(EncodeAnnouncement(a));
}

void VersionPublisher::AnnounceLoop() {
  absl::MutexLock lock(&mu_);
  while (!closing_) {
    mu_.AwaitWithTimeout(absl::Condition(&closing_), options_.announce_every);
    if (closing_ || !broken_.ok() || version_ == 0) continue;
    Announce().IgnoreError();  // a broken stream is reported by the next Push
  }
}

absl::StatusOr<PushedVersion> VersionPublisher::Push(absl::string_view data,
                                                     const PushOptions& options) {
  if (options.wait_for < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("wait_for must be 0 (do not wait) or more, not ", options.wait_for));
  }
  const absl::Time deadline = options.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + options.timeout;
  uint64_t object_id = 0;
  absl::StatusOr<PushedVersion> pushed = Send(data, options, object_id);
  if (!pushed.ok() || options.wait_for == 0) return pushed;
  // Without the lock: announcements (and other pushes) go on meanwhile.
  absl::StatusOr<DeliveryAcks> acks = publisher_->AwaitAcknowledged(
      object_id, static_cast<uint32_t>(options.wait_for), deadline);
  if (!acks.ok()) {
    return absl::Status(acks.status().code(), absl::StrCat("version ", pushed->version,
                                                           " was pushed: ", acks.status().message()));
  }
  pushed->acks = *std::move(acks);
  return pushed;
}

absl::StatusOr<PushedVersion> VersionPublisher::Send(absl::string_view data,
                                                     const PushOptions& options,
                                                     uint64_t& object_id) {
  if (options.name.empty() || options.name.size() > kMaxObjectNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("object name must be 1..", kMaxObjectNameBytes, " bytes"));
  }
  if (options.table.size() > kMaxTableBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("table of ", options.table.size(), " bytes; at most ", kMaxTableBytes));
  }
  const uint64_t chunk_count =
      data.size() / options_.chunk_bytes + (data.size() % options_.chunk_bytes != 0);
  if (chunk_count > kMaxVersionChunks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a version of ", data.size(), " bytes has more than ", kMaxVersionChunks, " chunks"));
  }
  const absl::Time start = absl::Now();
  absl::MutexLock lock(&mu_);
  if (closing_) return absl::FailedPreconditionError("Push() after Close()");
  if (!broken_.ok()) return broken_;
  const uint64_t version = options.version.value_or(version_ + 1);
  if (version <= version_) {
    return absl::InvalidArgumentError(
        absl::StrCat("version ", version, " is not above the last one pushed, ", version_));
  }

  VersionRecord r;
  r.stream = stream_;
  r.version = version;
  r.object_id = RandomId();
  object_id = r.object_id;
  r.size = data.size();
  r.chunk_bytes = options_.chunk_bytes;
  r.sha256 = DigestOf(data);
  r.table = options.table;
  r.chunk_hashes.resize(chunk_count);
  for (uint32_t i = 0; i < chunk_count; ++i) {
    r.chunk_hashes[i] = ChunkHash(data.substr(uint64_t{i} * r.chunk_bytes, r.chunk_bytes));
  }
  // A delta if the previous version has the same shape and the chain may grow.
  const uint64_t chain_limit = options_.max_chain_bytes != 0 ? options_.max_chain_bytes : r.size;
  std::string patch;
  if (!options.whole && version_ != 0 && size_ == r.size && hashes_.size() == chunk_count &&
      static_cast<int>(chain_.size()) <= options_.max_chain) {
    std::vector<uint32_t> changed;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < chunk_count; ++i) {
      if (hashes_[i] != r.chunk_hashes[i]) {
        changed.push_back(i);
        bytes += r.ChunkSize(i);
      }
    }
    if (chain_bytes_ + bytes <= chain_limit) {
      r.delta = true;
      r.base_version = version_;
      std::copy(sha256_.begin(), sha256_.end(), r.base_sha256.begin());
      r.changed = std::move(changed);
      patch.reserve(bytes);
      for (uint32_t i : r.changed) {
        const absl::string_view chunk = data.substr(uint64_t{i} * r.chunk_bytes, r.chunk_bytes);
        patch.append(chunk.data(), chunk.size());
      }
    }
  }
  const absl::string_view payload = r.delta ? absl::string_view(patch) : data;

  const uint64_t first_message = messages_ + 1;
  if (absl::Status s = SendCounted(EncodeVersion(r)); !s.ok()) return s;
  SendObjectOptions send;
  send.chunk_bytes = r.chunk_bytes;
  send.object_id = r.object_id;
  send.on_progress = options.on_progress;
  absl::StatusOr<SentObject> sent =
      SendObject(*publisher_, r.delta ? absl::StrCat(options.name, ".delta") : options.name,
                 payload, send);
  if (!sent.ok()) {
    broken_ = sent.status();
    return sent.status();
  }
  messages_ += sent->info.chunk_count + 2;  // MANIFEST, chunks, END

  auto entry = std::make_shared<Sent>(
      Sent{version, r.object_id, first_message, messages_ - first_message + 1});
  if (r.delta) {
    chain_.push_back(entry);
    chain_bytes_ += payload.size();
  } else {
    chain_ = {entry};
    chain_bytes_ = 0;
  }
  version_ = version;
  sha256_.assign(r.sha256.begin(), r.sha256.end());
  hashes_ = std::move(r.chunk_hashes);
  size_ = r.size;
  if (absl::Status s = Announce(); !s.ok()) return s;

  PushedVersion out;
  out.version = version;
  out.size = r.size;
  out.sent_bytes = payload.size();
  out.chunks_sent = sent->info.chunk_count;
  out.delta = r.delta;
  out.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  out.sha256_hex = HexDigest(r.sha256);
  return out;
}

absl::Status VersionPublisher::Close() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  if (announcer_.joinable()) announcer_.join();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<PublishResult> done = publisher_->Finish();
  return done.status();
}

}  // namespace canopy
