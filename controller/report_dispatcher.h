#ifndef CANOPY_CONTROLLER_REPORT_DISPATCHER_H_
#define CANOPY_CONTROLLER_REPORT_DISPATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "controller/controller_core.h"
#include "controller/edge_rates.h"
#include "controller/node_channel.h"

namespace canopy::controller {

// Hands node streams' attaches, reports and detaches to the ControllerCore
// on one thread of its own, so the threads that read node streams never
// wait for planning. A node's reports wait coalesced per kind (membership,
// sources and multicast peers are snapshots, so the newest replaces the
// older; RTT reports merge), so what waits is bounded by the number of
// sessions however fast nodes report. A session's attach, reports and
// detach reach the core in that order. Traffic reports go the same way to
// EdgeRates, which is forgotten with the session.
//
// Thread-safe.
class ReportDispatcher {
 public:
  // `rates` (may be null: traffic reports are dropped) must outlive this.
  explicit ReportDispatcher(ControllerCore& core, EdgeRates* rates = nullptr);
  ReportDispatcher(const ReportDispatcher&) = delete;
  ReportDispatcher& operator=(const ReportDispatcher&) = delete;
  ~ReportDispatcher();

  // Hands nothing more to the core and joins the thread; what still waits
  // is dropped (Attach callbacks get Unavailable). Idempotent.
  void Stop();

  // Queues ControllerCore::Attach; `done` gets its result on the
  // dispatcher's thread. `channel` is kept until the session's Detach ran.
  void Attach(v1::NodeHello hello, std::shared_ptr<NodeChannel> channel, absl::Time now,
              std::function<void(absl::StatusOr<uint64_t>)> done);
  // Queues one membership, sources, RTT, multicast-peers or traffic report
  // of `session` (other kinds are ignored), received at `now`.
  void Report(uint64_t session, const v1::NodeReport& report, absl::Time now);
  // Queues ControllerCore::Detach(session).
  void Detach(uint64_t session);

  // Sessions whose reports wait to be planned.
  size_t pending() const;

 private:
  struct Pending {
    std::optional<v1::MembershipReport> membership;
    std::optional<v1::SourceReport> sources;
    std::map<std::string, uint64_t> rtts;  // peer → µs, newest wins
    bool has_rtts = false;
    std::optional<v1::MulticastPeers> multicast_peers;
    std::optional<v1::TrafficReport> traffic;
    absl::Time traffic_received;
    absl::Time received;
  };
  struct Item {
    enum class Kind { kAttach, kReports, kDetach } kind = Kind::kReports;
    uint64_t session = 0;
    v1::NodeHello hello;
    std::shared_ptr<NodeChannel> channel;
    absl::Time now;
    std::function<void(absl::StatusOr<uint64_t>)> done;
  };

  void Run();
  // Hands one item to the core (called without mu_).
  void Process(Item item, std::optional<Pending> pending);

  ControllerCore& core_;
  EdgeRates* const rates_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  // Reports waiting per session; a session listed here has one kReports
  // item in queue_.
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Channels of attached sessions, released after their Detach.
  std::map<uint64_t, std::shared_ptr<NodeChannel>> channels_ ABSL_GUARDED_BY(mu_);
  // Node ids of attached sessions (for traffic reports).
  std::map<uint64_t, std::string> node_ids_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_REPORT_DISPATCHER_H_
