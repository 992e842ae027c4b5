#ifndef CANOPY_CLIENT_SDK_PUBLISHER_H_
#define CANOPY_CLIENT_SDK_PUBLISHER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "canopy/tls.h"
#include "canopy/transport.h"

namespace canopy {

struct PublisherOptions {
  // HOST:PORT of the local node's client endpoint.
  std::string node_address;
  // Group to publish to.
  std::string group;
  // Publisher id ([A-Za-z0-9._:-], at most 64 bytes), matched against the
  // group's allow-list and subscribers' filters.
  std::string source;
  Transport transport = Transport::kAuto;
  // Mutual TLS with the node, which then requires a certificate for
  // `source` (ClientTlsFiles). Empty: plaintext.
  std::optional<ClientTlsFiles> tls = std::nullopt;
};

// What the node accepted from one Publisher.
struct PublishResult {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
};

// How the receivers of a publisher's flow stand for one object it sent
// (docs/wire-format.md "Acknowledgements"), as the nodes summed it up.
struct DeliveryAcks {
  uint64_t object_id = 0;
  // Subscribers of the flow (those that held the object and left
  // included), as far as the nodes have heard.
  uint32_t receivers = 0;
  // Of them, those that hold the object verified.
  uint32_t acked = 0;
  // Receivers that do not hold it or left without it, nodes nothing was
  // heard from, the receivers of nodes that left the tree.
  uint32_t missing_count = 0;
  // Up to 16 of them: "MEMBER@NODE", "MEMBER@NODE (left)",
  // "NODE (no answer)", "NODE (left the tree)" (DeliveryAcks in node.proto).
  std::vector<std::string> missing;
};

// Publishes a stream of messages to one group through the local node.
// Messages reach every subscriber whose filter admits this source, in order,
// each once. Send() applies back pressure: it blocks while the tree is
// slower than the publisher.
//
// Thread-compatible: use one Publisher from one thread at a time.
class Publisher {
 public:
  // Opens the publish stream and announces (group, source) so the node
  // checks the allow-list and builds the tree before the first message.
  // Returns InvalidArgument for a malformed option, the error naming the
  // file for unusable `tls` files. With a client link it
  // also waits for the node's answer: PermissionDenied for a source the
  // group refuses, Unavailable if the node or its link cannot be reached.
  static absl::StatusOr<std::unique_ptr<Publisher>> Open(PublisherOptions options);

  virtual ~Publisher() = default;

  // Sends one message. Returns the stream's error (e.g. PermissionDenied for
  // a source the group does not allow) once the stream has broken. A
  // message larger than the node takes (canopy-node --max-payload, which
  // the node advertises with its client link) is InvalidArgument: on a
  // client link it is refused here and the stream goes on; on
  // Transport::kGrpcStream the node refuses it and the stream ends.
  virtual absl::Status Send(absl::string_view payload) = 0;

  // Sends one message made of `parts` concatenated, without first copying
  // them into one buffer where the transport allows (client links).
  virtual absl::Status SendGathered(absl::Span<const absl::string_view> parts) = 0;

  // Waits until `receivers` subscribers hold object `object_id` (the id
  // of docs/objects.md) verified, and returns the totals then. At
  // `deadline`: DeadlineExceeded saying how many hold it and naming up to
  // 16 receivers or nodes that do not. The stream's error if it broke.
  // Thread-safe, also against Send() from another thread.
  // Unimplemented on Transport::kGrpcStream.
  virtual absl::StatusOr<DeliveryAcks> AwaitAcknowledged(uint64_t object_id, uint32_t receivers,
                                                         absl::Time deadline) {
    (void)object_id;
    (void)receivers;
    (void)deadline;
    return absl::UnimplementedError("acknowledgements need the client-link transport");
  }

  // OK while the stream is open; once the node has ended it (it refused the
  // source, e.g. after a policy change, or went away), the stream's error,
  // which the next Send() returns too. Never blocks, so a caller that waits
  // for its next message can notice a refusal meanwhile. On a client link
  // the end is known within a round trip; on Transport::kGrpcStream only
  // when a Send() fails (this returns OK until then).
  virtual absl::Status Health() { return absl::OkStatus(); }

  // Ends the stream and waits until the node has accepted every message.
  // Returns what was accepted, or the node's error. A Publisher destroyed
  // without Finish() cancels its stream: messages still in flight may be lost.
  // REQUIRES: called once, after the last Send().
  virtual absl::StatusOr<PublishResult> Finish() = 0;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_PUBLISHER_H_
