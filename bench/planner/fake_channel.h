#ifndef CANOPY_BENCH_PLANNER_FAKE_CHANNEL_H_
#define CANOPY_BENCH_PLANNER_FAKE_CHANNEL_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "canopy/v1/controller.pb.h"
#include "controller/controller_core.h"

namespace canopy::bench {

// A NodeChannel that goes nowhere: it only counts what the controller hands
// it (no serialisation), so the benchmark measures the control plane and not
// a transport. It keeps one thing: the last ProbePeers, whom the simulated
// node measures.
//
// Thread-safe.
class CountingChannel final : public controller::NodeChannel {
 public:
  // Counts the instruction by kind; always succeeds.
  bool Send(const v1::NodeInstruction& instruction) override;
  // Marks the channel closed (a replaced or dead session).
  void Close() override;

  // Forwarding tables received, and the flow entries they carried in total.
  uint64_t tables() const { return tables_.load(std::memory_order_relaxed); }
  uint64_t flow_entries() const { return flow_entries_.load(std::memory_order_relaxed); }
  // Version of the last table received; 0 if none.
  uint64_t last_version() const { return last_version_.load(std::memory_order_relaxed); }
  // Every instruction received (tables, acks, policies, rejections).
  uint64_t instructions() const { return instructions_.load(std::memory_order_relaxed); }
  uint64_t rejections() const { return rejections_.load(std::memory_order_relaxed); }
  bool closed() const { return closed_.load(std::memory_order_relaxed); }
  // The last ProbePeers received (empty if none).
  v1::ProbePeers probe_peers() const;

 private:
  std::atomic<uint64_t> instructions_{0};
  std::atomic<uint64_t> tables_{0};
  std::atomic<uint64_t> flow_entries_{0};
  std::atomic<uint64_t> last_version_{0};
  std::atomic<uint64_t> rejections_{0};
  std::atomic<bool> closed_{false};
  mutable absl::Mutex mu_;
  v1::ProbePeers probe_peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_PLANNER_FAKE_CHANNEL_H_
