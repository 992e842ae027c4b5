#ifndef CANOPY_NODE_RELAY_H_
#define CANOPY_NODE_RELAY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "node/ack_aggregator.h"
#include "node/child_links.h"
#include "node/fan_out.h"
#include "node/fault_injection.h"
#include "node/flow_repair.h"
#include "node/flow_states.h"
#include "node/flow_table.h"
#include "node/forwarding_state.h"
#include "node/held_resumes.h"
#include "node/lan_multicast.h"
#include "node/local_clients.h"
#include "node/local_intake.h"
#include "node/multicast_channel.h"
#include "node/parent_links.h"
#include "node/relay_counters.h"
#include "node/scheduler.h"
#include "node/traffic_counters.h"
#include "wire/inbound_link.h"
#include "wire/link_listener.h"

namespace canopy::node {

struct RelayOptions {
  std::string node_id;
  // Secret this node's data links carry in their HELLO (NodeHello.link_token);
  // children take a flow's frames only from a link with its parent's token.
  std::string link_token;
  // Largest payload accepted from a link or a publisher.
  uint32_t max_payload = wire::kDefaultMaxPayload;
  // Per child link: queue bounds for back pressure. (Local subscribers'
  // queues are sized by whoever creates them.)
  size_t link_high_watermark_bytes = 8u << 20;
  size_t link_low_watermark_bytes = 2u << 20;
  // A receiver that stays above its high watermark this long is detached
  // (`reliable`: back pressure, then detach).
  absl::Duration detach_after = absl::Seconds(5);
  // How long frames of a flow missing from the table are held (the link is
  // paused) before they are dropped.
  absl::Duration unknown_flow_wait = absl::Seconds(5);
  // Replay rings of all flows together keep at most this many bytes of
  // recent frames (the newest frame of each flow is always kept).
  size_t replay_bytes = 64u << 20;
  // Repairs (FlowRepairOptions).
  absl::Duration repair_timeout = absl::Seconds(2);
  absl::Duration resume_retry = absl::Seconds(1);
  // Where bytes, frames, drops, queue depths and ring use are counted for
  // /metrics; may be null. Must outlive the relay.
  TrafficCounters* traffic = nullptr;
  // Fault injection for tests and drills (FaultInjector); 0 = none.
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

// The data plane of one node. It wires together, with one-way
// dependencies: the compiled forwarding table (FlowTable, rebuilt and
// swapped whole on every table or policy change), the links to children
// and their back pressure (ChildLinks), the fan-out of a frame to its
// receivers (FanOut), flow repair (FlowRepair: RESUME, GAP, resends), the
// LAN multicast side (LanMulticast) and local publishers' intake
// (LocalIntake). Handling a frame reads the current table snapshot and the
// flow's own lock: no relay-wide lock, no protobuf copy, no formatting.
//
// Only the flow's parent (its id and link token; with TLS its certificate)
// may send a flow's DATA and GAP, only its children RESUME; a node that has
// never had a frame of a `reliable` flow asks for it from the start. Slow
// receivers follow the group's policy: `reliable` ones push back on the
// sender and are detached if they stay full for `detach_after`; `realtime`
// ones drop their own oldest frames (counted).
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

  // Local publishers (LocalIntake).
  uint64_t PublishLocal(const std::string& group, const std::string& source,
                        absl::string_view payload);
  absl::StatusOr<uint64_t> PublishFrame(const std::string& group, const std::string& source,
                                        wire::FrameBuffer frame);
  LocalIntake& intake() { return intake_; }

  // Delivery acknowledgements: local subscribers' ACKs go in here, and
  // local publishers watch their flows' totals here.
  AckAggregator& acks() { return acks_; }

  // Sends a local subscriber the frames (after, until] of the flow with
  // these ids again: from this node's replay ring, or asked of its parent
  // when the ring lacks them. The frames join the subscriber's queue behind
  // those already in it. NotFound if the subscriber's group has no such
  // flow here; InvalidArgument for an empty range.
  absl::Status ResendToSubscriber(const std::shared_ptr<SubscriberQueue>& subscriber,
                                  uint32_t group_handle, uint32_t source_id, uint64_t after,
                                  uint64_t until);

  // Call after the forwarding table or the policies changed: compiles and
  // swaps in the new table, opens links to new children and closes those no
  // longer needed, forgets flows that ended, and joins or leaves the LAN
  // multicast groups the table names.
  void OnTableChanged();

  // A frame that arrived by LAN multicast from `sender` (LanMulticast).
  // Any thread.
  void OnMulticastFrame(wire::FramePtr frame, std::string sender);

  // The relay's counters.
  RelayCounters counters() const;

  // What the node's traffic report reads (edge_report.h): the state of
  // every flow, and the links to children.
  const FlowStates& flows() const { return flows_; }
  std::vector<std::shared_ptr<wire::QueuedLink>> child_links() const { return children_.Links(); }

 private:
  std::shared_ptr<const FlowTable> table() const { return table_.load(std::memory_order_acquire); }
  void OnInboundFrame(wire::FramePtr frame, wire::InboundLink& link);
  // Returns true if it paused the link.
  bool HandleData(const wire::FramePtr& frame, const std::shared_ptr<wire::InboundLink>& link);
  void OnGap(const wire::FramePtr& frame, const wire::InboundLink& link);
  void OnChildControl(wire::FramePtr frame, const std::shared_ptr<wire::QueuedLink>& link);
  // Answers a child's RESUME if the table names `link`'s peer a child of
  // the flow; returns false (answering nothing) if it does not.
  bool ServeResumeIfChild(const wire::ResumeRequest& request,
                          const std::shared_ptr<wire::QueuedLink>& link);
  // Answers held RESUMEs whose sender the table now names a child; refuses
  // those held past their time. I/O thread.
  void RetryHeldResumes();
  // A child's ACK_SUMMARY: taken only from a child the table names for the
  // flow; a malformed one closes the link.
  void OnChildAckSummary(const wire::Frame& frame, const std::shared_ptr<wire::QueuedLink>& link);
  // Sends RESUME to the parent of every flow whose parent is `peer`, whose
  // parent changed, or that came back to the table, over the link from
  // that parent. I/O thread.
  void ResumeFromParents(const std::string* peer);
  // True if `link` speaks for the flow: it comes from the parent the table
  // names, with that parent's link token.
  static bool FromParent(const FlowRoute& route, const wire::InboundLink& link);
  // Counts a frame refused for coming from a link the table does not name
  // for its role, and logs the first of every thousand.
  void RefuseFrame(TrafficCounters::GroupCell* counters, const std::string& group,
                   const std::string& what, const std::string& from, const std::string& rightful);
  // RefuseFrame for a frame of the flow with these ids, counted for its
  // group when the table has the flow.
  void RefuseFrameOfFlow(uint32_t group_handle, uint32_t source_id, const std::string& what,
                         const std::string& from, const std::string& rightful);
  // Joins and leaves the LAN multicast groups `table` names.
  void UpdateMulticastGroups(const FlowTable& table);
  // Every 250 ms on the I/O thread: expires flow watchers and repairs,
  // retries LAN holes and tails, reports gauges.
  void ScheduleTick();
  void ReportGauges(const FlowTable& table);

  const RelayOptions options_;
  ForwardingState& state_;
  LocalClients& clients_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer tick_timer_;
  AsioScheduler scheduler_;
  std::unique_ptr<wire::LinkListener> listener_;  // used on the I/O thread
  std::thread io_thread_;

  RelayTally tally_;
  ReplayBudget budget_;
  ParentLinks parents_;
  FlowStates flows_;
  std::unique_ptr<FaultInjector> faults_;  // null unless asked for
  ChildLinks children_;
  FlowRepair repair_;
  FanOut fan_out_;
  LanMulticast lan_;
  LocalIntake intake_;
  HeldResumes held_resumes_{4096};
  AckAggregator acks_;

  std::atomic<std::shared_ptr<const FlowTable>> table_;
  // Serialises OnTableChanged (compiles come from the controller session).
  absl::Mutex compile_mu_;
  absl::flat_hash_set<std::string> multicast_joined_ ABSL_GUARDED_BY(compile_mu_);
  std::atomic<bool> stopped_{false};
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_RELAY_H_
