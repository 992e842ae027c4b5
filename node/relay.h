#ifndef CANOPY_NODE_RELAY_H_
#define CANOPY_NODE_RELAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "proto/address.h"
#include "wire/link_listener.h"
#include "wire/outbound_link.h"

namespace canopy::node {

struct RelayOptions {
  std::string node_id;
  // Largest payload accepted from a link or a publisher.
  uint32_t max_payload = wire::kDefaultMaxPayload;
  // Per child link and per local subscriber: queue bounds for back pressure.
  size_t link_high_watermark_bytes = 8u << 20;
  size_t link_low_watermark_bytes = 2u << 20;
  size_t subscriber_high_watermark_bytes = 8u << 20;
  size_t subscriber_low_watermark_bytes = 2u << 20;
  // A receiver that stays above its high watermark this long is detached
  // (`reliable`: back pressure, then detach).
  absl::Duration detach_after = absl::Seconds(5);
  // How long frames of a flow missing from the table are held (the link is
  // paused) before they are dropped.
  absl::Duration unknown_flow_wait = absl::Seconds(5);
};

// The data plane of one node: accepts links from parents, opens links to
// children, and hands every frame (one shared buffer) to each child link and
// each local subscriber whose filter admits its source. Drops duplicates by
// per-flow sequence, and frames of sources the group's allow-list refuses.
// Slow receivers follow the group's policy: `reliable` ones push back on the
// sender and are detached if they stay full for `detach_after`; `realtime`
// ones drop their own oldest frames (counted) and never slow anyone.
//
// Thread-safe. I/O runs on one internal thread.
class Relay {
 public:
  Relay(RelayOptions options, ForwardingState& state, LocalClients& clients);
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  ~Relay();

  // Listens for links on `data_address` and starts the I/O thread. Returns
  // the bound address (with the real port).
  absl::StatusOr<wire::Endpoint> Start(const wire::Endpoint& data_address);

  // Closes every link and joins the I/O thread. Idempotent.
  void Stop();

  // Sends one message of a local publisher: gives it the flow's next
  // sequence number, delivers it locally and forwards it to the flow's
  // children. Blocks while a receiver pushes back (at most detach_after).
  // Returns the sequence number.
  uint64_t PublishLocal(const std::string& group, const std::string& source,
                        absl::string_view payload);

  // Call after the forwarding table changed: closes links to nodes that are
  // no longer a child in any flow and forgets flows that ended.
  void OnTableChanged();

  // Frames dropped as duplicates / for flows this node never learned.
  uint64_t duplicates_dropped() const;
  uint64_t unknown_flow_dropped() const;
  // Frames dropped at this relay because the group's allow-list refuses
  // their source.
  uint64_t disallowed_dropped() const;

 private:
  // Receivers that were above their high watermark after a dispatch.
  struct Pressure {
    std::vector<std::shared_ptr<wire::OutboundLink>> links;
    std::vector<std::shared_ptr<SubscriberQueue>> subscribers;
    bool empty() const { return links.empty() && subscribers.empty(); }
  };

  // Hands `frame` to every receiver of its flow. `entry` may be null (no
  // table entry yet: local delivery only).
  Pressure Dispatch(const v1::FlowEntry* entry, const std::shared_ptr<const FlowNames>& names,
                    const wire::FramePtr& frame);
  // Runs `done` once every receiver in `pressure` drained, detaching the
  // ones still full after detach_after.
  void AwaitDrain(Pressure pressure, std::function<void()> done);
  void OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link);
  // Returns true if it paused the link.
  bool HandleInbound(const wire::FramePtr& frame, const std::shared_ptr<wire::InboundLink>& link);
  std::shared_ptr<wire::OutboundLink> LinkTo(const v1::Hop& hop);
  void ScheduleWatcherExpiry();

  const RelayOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer expiry_timer_;
  std::unique_ptr<wire::LinkListener> listener_;  // used on the I/O thread
  std::thread io_thread_;

  // Held from taking a sequence number to handing the frame to every
  // receiver, so two local publishers of one flow never reorder it.
  absl::Mutex publish_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<wire::OutboundLink>> children_
      ABSL_GUARDED_BY(mu_);
  // Highest sequence dispatched per (group, source); at the ingress, the
  // flow's sequence counter.
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> last_sequence_
      ABSL_GUARDED_BY(mu_);
  uint64_t duplicates_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unknown_flow_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t disallowed_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_RELAY_H_
