#ifndef CANOPY_NODE_RELAY_H_
#define CANOPY_NODE_RELAY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/multicast_channel.h"
#include "node/replay_ring.h"
#include "node/traffic_counters.h"
#include "proto/address.h"
#include "wire/link_listener.h"
#include "wire/outbound_link.h"

namespace canopy::node {

struct RelayOptions {
  std::string node_id;
  // Secret this node's data links carry in their HELLO (NodeHello.link_token);
  // children take a flow's frames only from a link with its parent's token.
  std::string link_token;
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
  // Replay rings of all flows together keep at most this many bytes of
  // recent frames (the newest frame of each flow is always kept).
  size_t replay_bytes = 64u << 20;
  // A child's RESUME that this node cannot serve from its ring is asked of
  // its own parent; with no answer within this time the missing range is
  // declared lost (GAP) to the child.
  absl::Duration repair_timeout = absl::Seconds(2);
  // A RESUME for the same gap is sent again after this long.
  absl::Duration resume_retry = absl::Seconds(1);
  // Where bytes, frames, drops, queue depths and ring use are counted for
  // /metrics; may be null. Must outlive the relay.
  TrafficCounters* traffic = nullptr;
  // Fault injection for tests and drills: every Nth DATA frame handed to
  // local subscribers is a copy with one payload bit flipped (and a
  // checksum to match), as if this node's memory were bad. The replay ring
  // keeps the intact frame. 0 = off.
  uint64_t fault_flip_every = 0;
  // Links from other nodes this node accepts at once, per address and in all.
  wire::LinkLimits link_limits;
  // Mutual TLS on every link to and from other nodes (and the OU of a node
  // certificate); plaintext links without a context.
  wire::LinkTls link_tls;
  // Native multicast on the LAN (FlowEntry.multicast_group); null = none:
  // children reached by multicast get nothing but repairs, and nothing is
  // received by multicast. Must outlive the relay.
  MulticastChannel* multicast = nullptr;
  // Frames received by multicast beyond a gap that wait for the gap to be
  // repaired, per flow (more are dropped and repaired too).
  size_t max_frames_ahead = 4096;
};

// Counters of one relay (monotonic since start).
struct RelayCounters {
  uint64_t duplicates_dropped = 0;
  uint64_t unknown_flow_dropped = 0;
  uint64_t disallowed_dropped = 0;
  // Frames that would change a flow's state (DATA, GAP, RESUME) from a link
  // the table does not name for that role: DATA and GAP from anyone but the
  // flow's parent (its id and link token), RESUME from anyone but a child.
  uint64_t not_from_parent_dropped = 0;
  // Frames dropped because an earlier sequence was missing (resent later).
  uint64_t out_of_order_dropped = 0;
  uint64_t resumes_sent = 0;
  uint64_t resumes_served = 0;
  // Frames sent again from the replay ring.
  uint64_t frames_replayed = 0;
  // Sequences declared lost for good (GAP) by or through this node.
  uint64_t sequences_lost = 0;
  // Frames sent once by LAN multicast instead of to each child, frames
  // received that way, and multicast gaps asked of the forwarder (NACK).
  uint64_t multicast_frames_sent = 0;
  uint64_t multicast_frames_received = 0;
  uint64_t multicast_repairs_asked = 0;
  // Data links refused by RelayOptions::link_limits.
  uint64_t links_refused = 0;
  // Data links closed because their TLS handshake failed (a plaintext
  // peer, no certificate, another CA), because the parent's certificate
  // is not that of the node its HELLO announces, or because they said no
  // HELLO in time.
  uint64_t links_refused_tls = 0;
  uint64_t links_refused_identity = 0;
  uint64_t links_refused_no_hello = 0;
  // Bytes held by all replay rings now.
  uint64_t replay_ring_bytes = 0;
};

// The data plane of one node: accepts links from parents, opens links to
// children, and hands every frame (one shared buffer) to each child link and
// each local subscriber whose filter admits its source. Drops duplicates by
// per-flow sequence, and frames of sources the group's allow-list refuses.
//
// Lossless re-parenting: every flow's recent frames stay in a replay ring.
// A node that sees a sequence gap from its parent drops the frame and asks
// the parent (RESUME) to resend from its last delivered sequence; it also
// sends RESUME as soon as a new parent's link arrives. A parent serves a
// RESUME from its ring; what its ring lacks it asks of its own parent, and
// only a range nobody holds is declared lost with a GAP frame, which reaches
// subscribers as a gap in sequence numbers. `realtime` flows accept gaps
// (their drops are counted) and resume only when the parent changes.
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

  // Like PublishLocal(), for a DATA frame a local publisher sent on its
  // client link: the frame is verified and restamped with the flow's ids
  // and next sequence in place (no copy of the payload). Returns the
  // sequence, or the frame's error (InvalidArgument, DataLoss), in which
  // case nothing was sent.
  absl::StatusOr<uint64_t> PublishFrame(const std::string& group, const std::string& source,
                                        wire::FrameBuffer frame);

  // Sends a local subscriber the frames (after, until] of the flow with
  // these ids again: from this node's replay ring, or asked of its parent
  // when the ring lacks them. The frames join the subscriber's queue behind
  // those already in it. NotFound if the subscriber's group has no such
  // flow here; InvalidArgument for an empty range.
  absl::Status ResendToSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber,
                                  uint32_t group_handle, uint32_t source_id, uint64_t after,
                                  uint64_t until);

  // Call after the forwarding table changed: closes links to nodes that are
  // no longer a child in any flow, forgets flows that ended, and joins or
  // leaves the LAN multicast groups the table names.
  void OnTableChanged();

  // A frame that arrived by LAN multicast from `sender` (an IPv4 address):
  // accepted only for a flow this node receives by multicast and only from
  // the host of its parent's link. A gap is asked of the parent over that
  // link (`reliable`) while the frames beyond it wait; `realtime` flows
  // count it. Any thread.
  void OnMulticastFrame(wire::FramePtr frame, std::string sender);

  // The relay's counters.
  RelayCounters counters() const;

 private:
  // Sequence state, replay ring and pending repairs of one flow.
  struct FlowState {
    // Held from taking or checking a sequence number to handing the frame
    // to every receiver, so a flow is never reordered. Taken before mu_.
    absl::Mutex mu;
    // Highest sequence dispatched in order; at the ingress, the counter.
    uint64_t last ABSL_GUARDED_BY(mu) = 0;
    ReplayRing ring ABSL_GUARDED_BY(mu);
    // Parent named by the table when last seen (to notice a move).
    std::string parent ABSL_GUARDED_BY(mu);
    // Child side: the `last` a RESUME was sent for, and when.
    uint64_t resume_asked_after ABSL_GUARDED_BY(mu) = 0;
    absl::Time resume_asked_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    // Parent side: children (or local subscribers that asked for a
    // resend) being sent what they lack.
    struct Repair {
      // Where the frames go: a child's link, or else a local subscriber's
      // queue (with the flow's names for its items).
      std::shared_ptr<wire::OutboundLink> link;
      std::shared_ptr<SubscriberQueue> subscriber;
      std::shared_ptr<const FlowNames> names;
      uint64_t next = 0;   // next sequence the child needs
      uint64_t until = 0;  // last one to send; 0 = follow the live flow
      // Last sequence of the range this node asked its own parent for
      // (0 = none outstanding).
      uint64_t asked_until = 0;
      // Without progress by then, the missing range is declared lost.
      absl::Time deadline;

      bool closed() const { return link ? link->closed() : subscriber->closed(); }
      void Send(const wire::FramePtr& frame) const;
      // Tells the receiver that [first, next) is lost: a GAP to a child; a
      // subscriber simply does not get the range (its resend fails).
      void SendGap(uint32_t group_handle, uint32_t source_id, uint64_t first, uint64_t next) const;
      std::string who() const { return link ? link->peer_node() : "a local subscriber"; }
    };
    std::vector<Repair> repairs ABSL_GUARDED_BY(mu);
    // Frames received by multicast beyond a gap, by sequence.
    std::map<uint64_t, wire::FramePtr> ahead ABSL_GUARDED_BY(mu);
    // Forwarder side: the last frame sent by multicast, sent again when the
    // flow goes quiet so a receiver that lost the tail of a burst notices.
    struct MulticastTail {
      wire::FramePtr frame;
      std::string group;
      int ttl = 1;
      absl::Time sent_at;
      int resent = 0;
    };
    std::optional<MulticastTail> multicast_tail ABSL_GUARDED_BY(mu);
    // Receiver side: frames that came by multicast before the parent's link
    // did (nothing to check their sender against yet), with their senders.
    std::vector<std::pair<wire::FramePtr, std::string>> before_parent_link ABSL_GUARDED_BY(mu);
  };

  // Receivers that were above their high watermark after a dispatch.
  struct Pressure {
    std::vector<std::shared_ptr<wire::OutboundLink>> links;
    std::vector<std::shared_ptr<SubscriberQueue>> subscribers;
    bool empty() const { return links.empty() && subscribers.empty(); }
    // Adds the receivers of `other`.
    void Absorb(Pressure other) {
      links.insert(links.end(), std::make_move_iterator(other.links.begin()),
                   std::make_move_iterator(other.links.end()));
      subscribers.insert(subscribers.end(), std::make_move_iterator(other.subscribers.begin()),
                         std::make_move_iterator(other.subscribers.end()));
    }
  };

  // The frame, or a damaged copy of it (RelayOptions::fault_flip_every).
  wire::FramePtr MaybeCorrupt(const wire::FramePtr& frame);

  // Makes the frame of a local publisher from (group handle, source id,
  // sequence).
  using LocalFrameMaker =
      absl::FunctionRef<absl::StatusOr<wire::FramePtr>(uint32_t, uint32_t, uint64_t)>;
  // Gives a local publisher's message the flow's next sequence, dispatches
  // it and waits out back pressure.
  absl::StatusOr<uint64_t> Ingest(const std::string& group, const std::string& source,
                                  LocalFrameMaker make);

  // Hands `frame` to every receiver of its flow. `entry` may be null (no
  // table entry yet: local delivery only).
  Pressure Dispatch(const v1::FlowEntry* entry, const std::shared_ptr<const FlowNames>& names,
                    const wire::FramePtr& frame, FlowState& flow)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // Keeps `frame` in the flow's ring, evicting the flow's oldest frames
  // while all rings together exceed replay_bytes.
  void Remember(FlowState& flow, const wire::FramePtr& frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // Sends each pending repair what the ring now holds for it.
  void FeedRepairs(FlowState& flow) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // FeedRepairs, then asks this node's parent for what a repair is stuck
  // on (once per range); with no parent to ask (`entry` null or
  // the ingress) the range is declared lost at once.
  void AdvanceRepairs(const v1::FlowEntry* entry, FlowState& flow)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // Declares lost, to each repair whose deadline passed, the range up to
  // the next frame the ring holds.
  void ExpireRepairs(const v1::FlowEntry& entry, FlowState& flow, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  void ServeResume(const v1::FlowEntry& entry, FlowState& flow,
                   const std::shared_ptr<wire::OutboundLink>& link, uint64_t after, uint64_t until)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // Asks this node's parent for [first, last] of the flow (last 0: from
  // `first` on, then the live flow); false if there is no link from it.
  bool AskParent(const v1::FlowEntry& entry, uint64_t first, uint64_t last);
  // Sends RESUME to the parent of every flow whose parent is `peer`, or
  // whose parent changed, over the link from that parent. I/O thread.
  void ResumeFromParents(const std::string* peer);
  void OnChildControl(wire::FramePtr frame, wire::OutboundLink& link);
  void OnGap(const wire::FramePtr& frame, const wire::InboundLink& link);
  // True if `link` speaks for `entry`'s flow: it comes from the parent the
  // table names, with that parent's link token.
  static bool FromParent(const v1::FlowEntry& entry, const wire::InboundLink& link);
  // Counts a frame refused for coming from a link the table does not name
  // for its role, and logs the first of every thousand.
  void RefuseFrame(const std::string& group, const std::string& what, const std::string& from,
                   const std::string& rightful);
  std::shared_ptr<FlowState> Flow(const std::string& group, const std::string& source);
  std::shared_ptr<FlowState> FindFlow(const std::string& group, const std::string& source);
  void ExpireAllRepairs(absl::Time now);
  // Sends the tail of each quiet multicast flow again (at most kTailResends
  // times, kTailQuiet after it last went out).
  void ResendMulticastTails(absl::Time now);
  static constexpr int kTailResends = 3;
  static constexpr absl::Duration kTailQuiet = absl::Milliseconds(100);
  // Every flow's key and state, copied under mu_.
  std::vector<std::pair<std::pair<std::string, std::string>, std::shared_ptr<FlowState>>>
  FlowsSnapshot() const;
  // Reports queue depths and replay-ring use to options_.traffic.
  void ReportGauges();
  // Runs `done` once every receiver in `pressure` drained, detaching the
  // ones still full after detach_after.
  void AwaitDrain(Pressure pressure, std::function<void()> done);
  void OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link);
  // OnMulticastFrame on the I/O thread.
  void HandleMulticast(const wire::FramePtr& frame, const std::string& sender);
  // Asks the parent over `link` for the sequences between the last one
  // dispatched and the first one waiting in `flow.ahead` — unless that was
  // asked already (with `retry`: within resume_retry).
  void AskForMulticastHole(const v1::FlowEntry& entry, FlowState& flow, wire::InboundLink& link,
                           bool retry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // AskForMulticastHole(retry) for every flow with frames waiting. I/O thread.
  void RetryMulticastHoles();
  // Dispatches the frames waiting in `flow.ahead` that are next in order.
  Pressure DispatchAhead(const v1::FlowEntry& entry, FlowState& flow)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flow.mu);
  // Returns true if it paused the link.
  bool HandleInbound(const wire::FramePtr& frame, const std::shared_ptr<wire::InboundLink>& link);
  // True if the group's allow-list admits the entry's source; otherwise
  // counts the drop (and logs the first).
  bool PassesAllowList(const v1::FlowEntry& entry);
  // Counts a frame dropped as a duplicate.
  void CountDuplicate(const std::string& group);
  // The live link from the flow's parent (its id and token), or null.
  std::shared_ptr<wire::InboundLink> ParentLink(const v1::FlowEntry& entry);
  std::shared_ptr<wire::OutboundLink> LinkTo(const v1::Hop& hop);
  // After kRelinkDelay, opens a new link to `child` if the table still
  // names it (its link failed: the child may have restarted). I/O thread.
  void ScheduleRelink(const std::string& child);
  static constexpr std::chrono::milliseconds kRelinkDelay{250};
  void ScheduleWatcherExpiry();

  const RelayOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer expiry_timer_;
  std::unique_ptr<wire::LinkListener> listener_;  // used on the I/O thread
  std::thread io_thread_;

  std::atomic<uint64_t> fault_counter_{0};

  mutable absl::Mutex mu_;
  // Links from parents by their node id and link token, for RESUME. Send()
  // on them only on the I/O thread.
  absl::flat_hash_map<std::pair<std::string, std::string>, std::weak_ptr<wire::InboundLink>>
      parent_links_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<wire::OutboundLink>> children_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, std::string>, std::shared_ptr<FlowState>> flows_
      ABSL_GUARDED_BY(mu_);
  RelayCounters counters_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // LAN multicast groups joined for the table's flows.
  absl::flat_hash_set<std::string> multicast_joined_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_RELAY_H_
