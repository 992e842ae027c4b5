#ifndef CANOPY_CLIENT_SDK_VERSIONS_H_
#define CANOPY_CLIENT_SDK_VERSIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/object.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"

namespace canopy {

class VersionTap;  // src/version_tap.h

// Versions: a publisher that pushes successive versions of one blob (a
// model's weights) and receivers that hold the latest one, whole and
// verified (docs/objects.md, "Versions").
//
// - A push whose size and chunking match the version before sends only the
//   chunks whose content changed (a delta). A receiver patches in place
//   after checking that it holds exactly that version before.
// - A receiver that lacks what a delta builds on (it joined late, missed a
//   version, restarted) fetches the last whole version and the deltas
//   since from the nodes' replay rings, on its own path only: nothing is
//   sent again to the others. The publisher announces the latest version
//   after every push and every `announce_every`.
// - A receive returns only when a whole version is in place and its
//   SHA-256 matched the publisher's: never a mix of two versions.

struct VersionPublisherOptions {
  // Bytes per chunk, the unit a delta sends: 1 KiB .. 15 MiB.
  uint32_t chunk_bytes = 1u << 20;
  // Announce the latest version this often, so a receiver that joins
  // between pushes learns of it. Also announced after every push.
  absl::Duration announce_every = absl::Seconds(1);
  // A push is sent whole, not as a delta, once the deltas since the last
  // whole version would exceed this many bytes (0 = the version's size) or
  // `max_chain` objects. A late joiner fetches the last whole version and
  // those deltas, so every node on the way needs replay room for them
  // (canopy-node --replay-mib at least twice the version's size).
  uint64_t max_chain_bytes = 0;
  int max_chain = 16;
};

struct PushOptions {
  // The version number: above the last one pushed. Default: last + 1.
  std::optional<uint64_t> version;
  // Name of the object that carries a whole version (what canopy-recv
  // writes it as); 1..1024 bytes.
  std::string name = "version";
  // Opaque description carried with the version (the tensor table).
  std::string table;
  // Send the whole version even where a delta would do.
  bool whole = false;
  // Receivers that must hold the version verified before Push returns
  // (0 = do not wait): their acknowledgements, summed up by the nodes
  // (Publisher::AwaitAcknowledged).
  int wait_for = 0;
  // How long Push may take in all when it waits for receivers.
  absl::Duration timeout = absl::InfiniteDuration();
  // Bytes of the object handed to the node so far.
  std::function<void(uint64_t sent_bytes)> on_progress;
};

struct PushedVersion {
  uint64_t version = 0;
  uint64_t size = 0;        // bytes of the version
  uint64_t sent_bytes = 0;  // bytes of chunks sent (all of them, or the delta's)
  uint32_t chunks_sent = 0;
  bool delta = false;
  double seconds = 0;
  std::string sha256_hex;  // of the whole version
  // With wait_for: how the receivers stood when enough held the version.
  std::optional<DeliveryAcks> acks;
};

// Pushes versions to one group through one Publisher, and announces the
// latest from a background thread.
//
// Thread-safe.
class VersionPublisher {
 public:
  // Opens the publisher (errors as Publisher::Open) and starts announcing.
  // InvalidArgument for a bad chunk size or chain bound.
  static absl::StatusOr<std::unique_ptr<VersionPublisher>> Open(
      PublisherOptions publisher, VersionPublisherOptions options = {});
  // Pushes through `publisher`, which it owns from now on. REQUIRES: not null.
  static absl::StatusOr<std::unique_ptr<VersionPublisher>> Open(
      std::unique_ptr<Publisher> publisher, VersionPublisherOptions options = {});
  ~VersionPublisher();

  // Sends `data` as the next version: a delta if it has the size and
  // chunking of the version before and the chain bounds allow, else whole.
  // Blocks while the tree applies back pressure. InvalidArgument for a
  // version not above the last or a negative wait_for; the publisher's
  // error if its stream broke. With wait_for = N, then waits until N
  // receivers hold the version verified: DeadlineExceeded at the timeout,
  // saying how many do and naming up to 16 receivers or nodes that do not
  // (the version stays pushed); Unimplemented on Transport::kGrpcStream.
  // Announcements go on meanwhile, and other threads may push.
  absl::StatusOr<PushedVersion> Push(absl::string_view data, const PushOptions& options = {});

  // The last version pushed (0 = none).
  uint64_t version() const;

  // Stops announcing and ends the stream, waiting until the node accepted
  // everything. REQUIRES: called once; no Push after it.
  absl::Status Close();

 private:
  VersionPublisher(std::unique_ptr<Publisher> publisher, VersionPublisherOptions options);
  // Push without the wait; sets `object_id` to the object that carries it.
  absl::StatusOr<PushedVersion> Send(absl::string_view data, const PushOptions& options,
                                     uint64_t& object_id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status SendCounted(absl::string_view message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Announce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AnnounceLoop();

  struct Sent;  // one object of the chain
  const VersionPublisherOptions options_;
  const uint64_t stream_;
  mutable absl::Mutex mu_;
  // Set at construction; its AwaitAcknowledged is called without mu_.
  std::unique_ptr<Publisher> publisher_;
  uint64_t messages_ ABSL_GUARDED_BY(mu_) = 0;  // sent through publisher_
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  std::string sha256_ ABSL_GUARDED_BY(mu_);  // raw digest of version_
  std::vector<uint64_t> hashes_ ABSL_GUARDED_BY(mu_);
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Sent>> chain_ ABSL_GUARDED_BY(mu_);
  uint64_t chain_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // deltas since the whole one
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  std::thread announcer_;
};

// Where a version's bytes [offset, offset + size) go: caller memory, or,
// with `data` null, the receive's `on_write` (e.g. a copy to a GPU).
struct Segment {
  uint64_t offset = 0;
  char* data = nullptr;
  uint64_t size = 0;
};

struct VersionInfo {
  std::string source;  // publisher
  uint64_t stream = 0;  // random per VersionPublisher
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t chunk_bytes = 0;
  std::string sha256_hex;
  std::string table;
  bool delta = false;
  uint64_t base_version = 0;
};

struct ReceiveVersionOptions {
  absl::Duration timeout = absl::InfiniteDuration();
  // REQUIRED. Where version `info` goes: segments that cover [0, info.size)
  // in order without overlap, writable until the receive returns. Called
  // before any byte of the version is written; an error fails the receive
  // with it and nothing is written. Returning the segments the held
  // version lives in patches it in place; other memory first gets the held
  // version copied in (checked against its chunk hashes) when a delta comes.
  std::function<absl::StatusOr<std::vector<Segment>>(const VersionInfo& info)> destination;
  // For segments without memory: write bytes [offset, offset + size).
  std::function<void(uint64_t offset, absl::string_view bytes)> on_write;
  // Bytes [offset, offset + size) of the version are in place and each
  // chunk's XXH3-64 matched the publisher's.
  std::function<void(uint64_t offset, uint64_t size)> on_verified;
};

struct ReceivedVersion {
  VersionInfo info;
  uint64_t received_bytes = 0;  // chunk bytes that arrived for it
  double seconds = 0;           // from the call
};

// Receives versions from a subscription, one whole verified version per
// call; fetches what it lacks (see above).
//
// Thread-compatible: one call at a time.
class VersionReceiver {
 public:
  // REQUIRES: `subscriber` outlives this and is used by nothing else.
  explicit VersionReceiver(Subscriber& subscriber);
  ~VersionReceiver();

  // Receives the next version newer than the one held (of any publisher on
  // the group; a delta only on the version it was made from) and returns
  // once it is in place and its SHA-256 matched. A receiver that is behind
  // (a late joiner, or one whose next versions are already waiting) goes
  // on to the latest version, through at most 64 versions, and returns it;
  // `destination` and `on_verified` are then called for each on the way. DeadlineExceeded at the
  // timeout (saying what it waited for); the destination's error; DataLoss
  // when what a version needs is held by no node any more; the
  // subscription's error. After an error nothing is held: the next receive
  // fetches a whole version.
  absl::StatusOr<ReceivedVersion> Receive(const ReceiveVersionOptions& options);

  // The version held: nullopt before the first receive and after a failed
  // one.
  std::optional<VersionInfo> held() const;

 private:
  struct Held;
  struct Attempt;
  std::unique_ptr<VersionTap> tap_;
  std::unique_ptr<Held> held_;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_VERSIONS_H_
