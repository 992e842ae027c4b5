#ifndef CANOPY_CLIENT_SDK_SUBSCRIBER_H_
#define CANOPY_CLIENT_SDK_SUBSCRIBER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "canopy/tls.h"
#include "canopy/transport.h"

namespace canopy {

// IGMPv3 filter mode of a subscription.
enum class FilterMode {
  kInclude,  // receive only from the listed sources
  kExclude,  // receive from every source except the listed ones
};

// Whether the overlay can bring one source of the group to this
// subscriber's node now: cut off (no path from the source's node, …), or
// reachable again. The controller re-plans as soon as something changes
// that may reconnect it; what was published meanwhile arrives then, or is
// reported as missed (ReceivedMessage::missed_before).
struct SourceStatus {
  std::string source;
  bool reachable = false;
  // Why not, when not reachable.
  std::string reason;
};

struct SubscriberOptions {
  // HOST:PORT of the local node's client endpoint.
  std::string node_address;
  std::string group;
  // Default: EXCLUDE {} = every source.
  FilterMode mode = FilterMode::kExclude;
  std::vector<std::string> sources;
  Transport transport = Transport::kAuto;
  // This subscriber's name where a publisher waiting for delivery
  // acknowledgements hears it is missing ("worker-3"): 1..64 bytes of
  // [A-Za-z0-9._:@/-]. Empty: this host's name and process id.
  std::string member;
  // Mutual TLS with the node (ClientTlsFiles). Empty: plaintext.
  std::optional<ClientTlsFiles> tls = std::nullopt;
  // Called (on the subscription's receiving thread; must not block) when a
  // source the filter admits is cut off from the node, or reachable again.
  // May be empty.
  std::function<void(const SourceStatus&)> on_source_status = nullptr;
};

// One message as delivered.
struct ReceivedMessage {
  std::string group;
  std::string source;
  // Per (group, source), from 1, increasing.
  uint64_t sequence = 0;
  std::string payload;
  // Messages of this source that were lost just before this one (a
  // `realtime` group dropped them for a slow receiver, or no node held
  // them any more when the tree healed). 0 = none; the first message after
  // joining never counts earlier ones.
  uint64_t missed_before = 0;
  // True for a message sent again on request (RequestResend): its sequence
  // is not above one already received, and it says nothing about gaps. A
  // message that arrives again without being asked for is dropped, so each
  // is handed out once.
  bool resent = false;
};

// A subscription to one group: opening it joins, Cancel() or destruction
// leaves. Messages of each admitted source arrive in order, each once.
//
// Thread-compatible, except Cancel() which may be called from any thread.
class Subscriber {
 public:
  // Opens the subscription (the join). Returns InvalidArgument for a
  // malformed option, the error naming the file for unusable `tls` files.
  static absl::StatusOr<std::unique_ptr<Subscriber>> Open(SubscriberOptions options);

  virtual ~Subscriber() = default;

  // Waits until the node reports that the controller has planned the join,
  // so messages published from then on reach this subscriber.
  // DeadlineExceeded after `timeout`; the stream's error if it ended.
  virtual absl::Status WaitJoined(absl::Duration timeout) = 0;

  // Blocks for the next message. Returns the stream's status when it ends:
  // Cancelled after Cancel(), ResourceExhausted if the node detached this
  // slow subscriber, Unavailable if the node went away, DataLoss if a
  // message arrived corrupted. Messages received before the end are handed
  // out first.
  absl::StatusOr<ReceivedMessage> Next() { return Next(absl::InfiniteDuration()); }
  // Like Next(), but DeadlineExceeded if nothing arrives within `timeout`
  // (the subscription goes on).
  virtual absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) = 0;

  // Asks the node to send messages first..last of `source` again, from its
  // replay ring or further up the tree; they arrive after those already on
  // their way, marked `resent`. What no node holds any more does not come.
  // Thread-safe. Unimplemented on Transport::kGrpcStream; FailedPrecondition
  // before any message of `source` arrived.
  virtual absl::Status RequestResend(const std::string& source, uint64_t first, uint64_t last) = 0;

  // Tells the node that this subscriber holds object `object_id` (the id
  // of docs/objects.md) of `source`, verified: the acknowledgement a
  // publisher waiting for N receivers counts (docs/wire-format.md
  // "Acknowledgements"). ObjectReceiver and VersionReceiver call it.
  // Thread-safe. Unimplemented on Transport::kGrpcStream;
  // FailedPrecondition before any message of `source` arrived.
  virtual absl::Status Acknowledge(const std::string& source, uint64_t object_id) {
    (void)source;
    (void)object_id;
    return absl::UnimplementedError("acknowledgements need the client-link transport");
  }

  // Leaves the group; a blocked Next() returns Cancelled. After an
  // Acknowledge() it first lets the node read the link to its end (at most
  // 1 s), so the acknowledgement is not lost. Thread-safe.
  virtual void Cancel() = 0;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SUBSCRIBER_H_
