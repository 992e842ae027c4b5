// SendObject / SendFile of canopy/object.h.

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/stripe_source.h"
#include "canopy/object.h"
#include "src/object_codec.h"

namespace canopy {
namespace {

uint64_t NewObjectId() {
  std::random_device entropy;
  return (static_cast<uint64_t>(entropy()) << 32) | entropy();
}

absl::Status ErrnoStatus(const std::string& what, int err) {
  const std::string text = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(text);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(text);
  return absl::InvalidArgumentError(text);
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<Publisher>>> OpenStripedPublishers(
    const PublisherOptions& options, int stripes) {
  if (stripes < 1 || stripes > kMaxStripes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stripes must be 1..", kMaxStripes, ", not ", stripes));
  }
  if (ParseStripe(options.source)) {
    return absl::InvalidArgumentError(
        absl::StrCat("source '", options.source, "' already names a stripe"));
  }
  std::vector<std::unique_ptr<Publisher>> out;
  for (int i = 0; i < stripes; ++i) {
    PublisherOptions stripe = options;
    if (stripes > 1) stripe.source = StripeSourceId(options.source, i, stripes);
    absl::StatusOr<std::unique_ptr<Publisher>> p = Publisher::Open(std::move(stripe));
    if (!p.ok()) return p.status();
    out.push_back(*std::move(p));
  }
  return out;
}

absl::StatusOr<SentObject> SendObject(Publisher& publisher, absl::string_view name,
                                      absl::string_view data, const SendObjectOptions& options) {
  Publisher* const one[] = {&publisher};
  return SendObject(absl::MakeConstSpan(one), name, data, options);
}

absl::StatusOr<SentObject> SendObject(absl::Span<Publisher* const> stripes, absl::string_view name,
                                      absl::string_view data, const SendObjectOptions& options) {
  if (stripes.empty()) return absl::InvalidArgumentError("no publisher to send through");
  if (name.empty() || name.size() > kMaxObjectNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("object name must be 1..", kMaxObjectNameBytes, " bytes"));
  }
  if (options.chunk_bytes < kMinChunkBytes || options.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk size must be ", kMinChunkBytes, "..", kMaxChunkBytes, " bytes"));
  }
  const absl::Time start = absl::Now();
  ObjectManifest m;
  m.object_id = options.object_id != 0 ? options.object_id : NewObjectId();
  m.size = data.size();
  m.chunk_bytes = options.chunk_bytes;
  const uint64_t count = data.size() / m.chunk_bytes + (data.size() % m.chunk_bytes != 0);
  if (count > UINT32_MAX) return absl::InvalidArgumentError("object has too many chunks");
  m.chunk_count = static_cast<uint32_t>(count);
  m.name = std::string(name);
  // Every stripe starts with the manifest, so each can be repaired alone.
  const std::string manifest = EncodeManifest(m);
  for (Publisher* p : stripes) {
    if (absl::Status s = p->Send(manifest); !s.ok()) return s;
  }

  // The digest advances with the chunks, so the first chunk leaves at once.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (sha == nullptr || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 unavailable");
  }
  for (uint32_t i = 0; i < m.chunk_count; ++i) {
    const absl::string_view chunk =
        data.substr(static_cast<uint64_t>(i) * m.chunk_bytes, m.chunk_bytes);
    EVP_DigestUpdate(sha.get(), chunk.data(), chunk.size());
    const std::array<char, kChunkHeaderBytes> header = EncodeChunkHeader(m.object_id, i, chunk);
    const absl::string_view parts[] = {absl::string_view(header.data(), header.size()), chunk};
    if (absl::Status s = stripes[i % stripes.size()]->SendGathered(parts); !s.ok()) return s;
    if (options.on_progress)
      options.on_progress(static_cast<uint64_t>(i) * m.chunk_bytes + chunk.size());
  }
  Sha256 digest{};
  unsigned int digest_len = 0;
  EVP_DigestFinal_ex(sha.get(), digest.data(), &digest_len);
  const std::string end = EncodeEnd(m.object_id, digest);
  for (Publisher* p : stripes) {
    if (absl::Status s = p->Send(end); !s.ok()) return s;
  }

  SentObject sent;
  sent.info = ObjectInfo{m.name, m.size, m.chunk_bytes, m.chunk_count, HexDigest(digest)};
  sent.object_id = m.object_id;
  sent.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (options.min_receivers > 0) {
    // Receivers acknowledge on stripe 0's flow (ObjectReceiver).
    absl::StatusOr<DeliveryAcks> acks = stripes[0]->AwaitAcknowledged(
        m.object_id, options.min_receivers, absl::Now() + options.ack_timeout);
    if (!acks.ok()) return acks.status();
    sent.acks = *std::move(acks);
  }
  return sent;
}

absl::StatusOr<SentObject> SendFile(Publisher& publisher, const std::string& path,
                                    absl::string_view name, const SendObjectOptions& options) {
  Publisher* const one[] = {&publisher};
  return SendFile(absl::MakeConstSpan(one), path, name, options);
}

absl::StatusOr<SentObject> SendFile(absl::Span<Publisher* const> stripes, const std::string& path,
                                    absl::string_view name, const SendObjectOptions& options) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path), errno);
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct stat st {};
  if (fstat(fd, &st) != 0) return ErrnoStatus(absl::StrCat("cannot stat ", path), errno);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(path, " is not a file"));
  const std::string base = name.empty() ? path.substr(path.find_last_of('/') == std::string::npos
                                                          ? 0
                                                          : path.find_last_of('/') + 1)
                                        : std::string(name);
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return SendObject(stripes, base, absl::string_view(), options);
  void* mapped = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapped == MAP_FAILED) return ErrnoStatus(absl::StrCat("cannot map ", path), errno);
  absl::Cleanup unmap = [mapped, size] { munmap(mapped, size); };
  madvise(mapped, size, MADV_SEQUENTIAL);
  return SendObject(stripes, base, absl::string_view(static_cast<const char*>(mapped), size),
                    options);
}

}  // namespace canopy
