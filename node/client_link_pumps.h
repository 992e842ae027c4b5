#ifndef CANOPY_NODE_CLIENT_LINK_PUMPS_H_
#define CANOPY_NODE_CLIENT_LINK_PUMPS_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/subscriber_queue.h"
#include "wire/frame_socket.h"

namespace canopy::node {

// Moves one subscriber's queue onto its client link, on the calling
// thread: consecutive frames go out in one gathered write, and a SOURCE
// frame precedes each run of frames from a different source. Events
// (joined, source status) go to `on_event` in their place in the queue
// (they travel on the gRPC stream); a false return ends the pump. Returns
// when the queue closes (its status), the link fails (Unavailable),
// `on_event` fails (Cancelled), or `stop` says so (Cancelled).
absl::Status PumpToSubscriberLink(SubscriberQueue& queue, wire::FrameSocket& link,
                                  const std::function<bool(const DeliveryItem&)>& on_event,
                                  const wire::StopRequested& stop);

// Reads what a subscriber sends on its client link — RESUME frames asking
// for messages again — and hands each to `resend` (handle, source id,
// after, until) until the link ends or `stop`. Returns OK at the client's
// clean half-close; InvalidArgument for any other frame (the caller closes
// the link).
absl::Status ReadSubscriberRequests(
    wire::FrameSocket& link,
    const std::function<void(uint32_t, uint32_t, uint64_t, uint64_t)>& resend,
    const wire::StopRequested& stop);

// What a publisher's client link delivered.
struct PublishTally {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
};

// Reads DATA frames from a publisher's client link until it half-closes,
// handing each to `publish` (which returns the sequence given, or why the
// frame was refused). Returns OK at the clean end of the link; the error
// of a malformed frame, a refused frame, a broken link, or Cancelled when
// `stop` says so. `tally` counts what was accepted either way.
absl::Status PumpFromPublisherLink(
    wire::FrameSocket& link, uint32_t max_payload,
    const std::function<absl::StatusOr<uint64_t>(wire::FrameBuffer)>& publish,
    const wire::StopRequested& stop, PublishTally& tally);

}  // namespace canopy::node

#endif  // CANOPY_NODE_CLIENT_LINK_PUMPS_H_
