#ifndef CANOPY_CLIENT_SDK_OBJECT_H_
#define CANOPY_CLIENT_SDK_OBJECT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"

namespace canopy {

// Objects: a named blob (a checkpoint, a file) sent once by a publisher and
// received whole and bit-exact by every subscriber of the group. It travels
// as ordinary messages (docs/objects.md): a manifest, the chunks, and an end
// message with the SHA-256 of the whole object. Every chunk carries the
// XXH3-64 its sender computed, checked before it is delivered.

// What an object is.
struct ObjectInfo {
  std::string name;
  uint64_t size = 0;  // bytes
  uint32_t chunk_bytes = 0;
  uint32_t chunk_count = 0;
  std::string sha256_hex;  // lowercase hex; set once the object is complete
};

struct SendObjectOptions {
  // Bytes per chunk: 1 KiB .. 15 MiB.
  uint32_t chunk_bytes = 1u << 20;
  // Called after each chunk was handed to the node, with the bytes so far.
  std::function<void(uint64_t sent_bytes)> on_progress;
  // The object's id (docs/objects.md); 0 = a random one.
  uint64_t object_id = 0;
  // After sending, wait until this many receivers hold the object verified
  // (Publisher::AwaitAcknowledged; with stripes, those of stripe 0), at
  // most `ack_timeout`. 0 = do not wait.
  uint32_t min_receivers = 0;
  absl::Duration ack_timeout = absl::Seconds(30);
};

struct SentObject {
  ObjectInfo info;
  uint64_t object_id = 0;
  double seconds = 0;  // from the manifest to the end message accepted
  // With min_receivers: how the receivers stood when enough held it.
  std::optional<DeliveryAcks> acks;
};

// Sends `data` as object `name` (1..1024 bytes) through `publisher`; blocks
// while the tree applies back pressure. Returns the publisher's error if its
// stream broke, InvalidArgument for a bad name or chunk size. With
// `min_receivers`, then waits for their acknowledgements: DeadlineExceeded
// (how many hold it, naming up to 16 missing receivers or nodes) if fewer
// held it within `ack_timeout`; Unimplemented on Transport::kGrpcStream.
absl::StatusOr<SentObject> SendObject(Publisher& publisher, absl::string_view name,
                                      absl::string_view data,
                                      const SendObjectOptions& options = {});

// Sends `data` as object `name` over the stripes of a striped publisher
// (OpenStripedPublishers): every stripe carries the manifest and the end
// message, chunk i travels on stripes[i % stripes.size()]. The planner may
// give each stripe its own tree (a striped forest), spreading the upload over
// more receivers. Blocks while any stripe's tree applies back pressure.
// One publisher is SendObject above.
absl::StatusOr<SentObject> SendObject(absl::Span<Publisher* const> stripes, absl::string_view name,
                                      absl::string_view data,
                                      const SendObjectOptions& options = {});

// Opens `stripes` publishers (1..64) for `options.source`: stripe i
// publishes as "<source>#i/<stripes>", which the group's allow-list and its
// subscribers' filters match as `source` itself. One stripe is a plain
// Publisher. Errors as Publisher::Open, or InvalidArgument for a bad count
// or a source that already names a stripe.
absl::StatusOr<std::vector<std::unique_ptr<Publisher>>> OpenStripedPublishers(
    const PublisherOptions& options, int stripes);

// Maps the file at `path` read-only and sends it as object `name` (default:
// the file's base name). NotFound / PermissionDenied / InvalidArgument for a
// file that cannot be read.
absl::StatusOr<SentObject> SendFile(Publisher& publisher, const std::string& path,
                                    absl::string_view name = "",
                                    const SendObjectOptions& options = {});
absl::StatusOr<SentObject> SendFile(absl::Span<Publisher* const> stripes, const std::string& path,
                                    absl::string_view name = "",
                                    const SendObjectOptions& options = {});

// Gets each verified chunk as it lands: its offset in the object and its
// bytes (valid during the call only; with a buffer they are the buffer's).
// Chunks arrive in order unless one had to be fetched again.
using ChunkCallback = std::function<void(uint64_t offset, absl::string_view bytes)>;

// The default of ReceiveObjectOptions::max_object_bytes: 64 GiB.
inline constexpr uint64_t kDefaultMaxObjectBytes = uint64_t{64} << 30;

struct ReceiveObjectOptions {
  // Give up (DeadlineExceeded) if the whole object has not arrived by then;
  // the call returns within a second of it.
  absl::Duration timeout = absl::InfiniteDuration();
  // Largest object, in bytes, this call accepts. A manifest announcing more
  // is refused before anything is allocated for the object: the call
  // returns ResourceExhausted and the object is skipped. It bounds what a
  // sender can make a receiver hold: Receive() allocates the announced size
  // up front, ReceiveChunks() holds at most that many bytes of chunks that
  // arrive ahead of their turn, and every call keeps a bit per chunk
  // (chunks are 1 KiB .. 15 MiB). ReceiveInto() is bounded by its buffer
  // as well.
  uint64_t max_object_bytes = kDefaultMaxObjectBytes;
  ChunkCallback on_chunk;
  // Called once the manifest arrived (size and name known), before any
  // chunk is written; an error aborts the receive with that error.
  std::function<absl::Status(const ObjectInfo&)> on_start;
  // Once the object's SHA-256 matched, tell the node that this subscriber
  // holds it (Subscriber::Acknowledge, on the flow of its stripe 0): what a
  // sender waiting for min_receivers counts. Where that is not possible (a
  // kGrpcStream subscription) the receive still succeeds.
  bool acknowledge = true;
};

struct ReceivedObject {
  ObjectInfo info;
  std::string source;             // publisher that sent it (without a stripe suffix)
  uint64_t object_id = 0;         // docs/objects.md
  double seconds = 0;             // manifest to verified completion
  double first_byte_seconds = 0;  // from the call to the first chunk
};

// Receives whole objects from a subscription, one per call, skipping other
// messages on the group (those without an object header). A malformed
// manifest (docs/objects.md: chunk size out of range, a chunk count that
// does not match the size) ends the call with InvalidArgument naming its
// sender. A chunk whose XXH3-64 does not match is never
// delivered: it is asked for again (Subscriber::RequestResend), as are
// chunks lost in a gap. A receiver that starts in the middle of an object
// asks for the object from its beginning. Completion is reported only after
// the whole object's SHA-256 matched the sender's.
//
// Thread-compatible: one call at a time.
class ObjectReceiver {
 public:
  explicit ObjectReceiver(Subscriber& subscriber) : subscriber_(subscriber) {}

  // Receives the next object into `buffer` (e.g. pinned memory a GPU copies
  // from). FailedPrecondition, before any byte is written, if the object is
  // larger than the buffer; the object is then skipped. DataLoss if the
  // object's SHA-256 does not match; the subscription's error if it ends.
  absl::StatusOr<ReceivedObject> ReceiveInto(absl::Span<char> buffer,
                                             const ReceiveObjectOptions& options = {});

  // Receives the next object chunk by chunk through `options.on_chunk`
  // (REQUIRES: set), without a buffer for the whole object.
  absl::StatusOr<ReceivedObject> ReceiveChunks(const ReceiveObjectOptions& options);

  // Receives the next object into a string of its size.
  absl::StatusOr<std::pair<ReceivedObject, std::string>> Receive(
      const ReceiveObjectOptions& options = {});

 private:
  absl::StatusOr<ReceivedObject> Run(absl::Span<char> buffer, bool use_buffer,
                                     const ReceiveObjectOptions& options, std::string* grow_into);

  Subscriber& subscriber_;
  // Objects already received or refused, by (source, id), so their late
  // messages (resends, duplicates) are skipped.
  std::vector<std::pair<std::string, uint64_t>> done_;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_OBJECT_H_
