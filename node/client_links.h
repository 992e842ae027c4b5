#ifndef CANOPY_NODE_CLIENT_LINKS_H_
#define CANOPY_NODE_CLIENT_LINKS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/subscriber_queue.h"
#include "wire/connection.h"
#include "wire/frame.h"

namespace canopy::node {

// A local subscriber's client link (docs/wire-format.md "Client links"),
// run asynchronously on the link's executor: no thread of its own. Frames
// leave its SubscriberQueue in gathered writes, with a SOURCE frame before
// each run of another source's frames; events (joined, a source's status)
// go to `on_event` in their place (they travel on the gRPC stream). The
// subscriber's RESUME frames (resend requests) go to `resend`, its ACK
// frames (it holds an object verified) to `acknowledge`.
//
// Thread-safe: Start and Stop from any thread.
class SubscriberLink : public std::enable_shared_from_this<SubscriberLink> {
 public:
  // (group handle, source id, after, until).
  using Resend = std::function<void(uint32_t, uint32_t, uint64_t, uint64_t)>;
  // An event; false ends the link (the call is gone).
  using EventSink = std::function<bool(const DeliveryItem&)>;
  // Why the link ended (OK: the subscriber closed it cleanly). Runs once.
  using Ended = std::function<void(const absl::Status&)>;
  // (group handle, source id, object id); an error ends the link with it.
  using Acknowledge = std::function<absl::Status(uint32_t, uint32_t, uint64_t)>;

  SubscriberLink(std::shared_ptr<wire::Connection> connection,
                 std::shared_ptr<SubscriberQueue> queue, EventSink on_event, Resend resend,
                 Ended on_end, Acknowledge acknowledge = nullptr);

  void Start();
  // Closes the link; on_end runs with Cancelled unless it ran already.
  void Stop();

 private:
  void Pump();
  void ReadRequests();
  void End(absl::Status status);

  const std::shared_ptr<wire::Connection> connection_;
  const std::shared_ptr<SubscriberQueue> queue_;
  const EventSink on_event_;
  const Resend resend_;
  const Acknowledge acknowledge_;
  Ended on_end_;  // used on the executor
  // Items taken from the queue and not yet sent (on the executor).
  std::deque<DeliveryItem> pending_;
  // The source the link carried last (SOURCE frames announce a change).
  std::string current_source_;
  uint32_t current_handle_ = 0;
  uint32_t current_id_ = 0;
  bool ended_ = false;  // on the executor
};

// What a publisher's client link delivered.
struct PublishTally {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
};

// A local publisher's client link, run asynchronously: each DATA frame read
// goes to `publish`, which hands it to the relay and calls `resume` once
// the receivers that pushed back drained; reading stops meanwhile (back
// pressure to the publisher). Ends at the publisher's clean half-close
// (OK), a malformed, refused or lost frame, or Stop.
//
// Thread-safe: Start and Stop from any thread.
class PublisherLink : public std::enable_shared_from_this<PublisherLink> {
 public:
  // Publishes one frame; `resume` runs (on any thread) when the next may
  // be read. Returns the sequence given, or why the frame was refused
  // (then `resume` never runs).
  using Publish =
      std::function<absl::StatusOr<uint64_t>(wire::FrameBuffer, std::function<void()> resume)>;
  using Ended = std::function<void(const absl::Status&, const PublishTally&)>;

  PublisherLink(std::shared_ptr<wire::Connection> connection, uint32_t max_payload, Publish publish,
                Ended on_end);

  void Start();
  // Ends the link (closing it unless `why` is OK) with `why` as its status.
  void Stop(absl::Status why = absl::CancelledError("the publisher left"));

 private:
  void ReadNext();
  void End(absl::Status status);

  const std::shared_ptr<wire::Connection> connection_;
  const uint32_t max_payload_;
  const Publish publish_;
  Ended on_end_;  // used on the executor
  PublishTally tally_;
  bool ended_ = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_CLIENT_LINKS_H_
