#include "bench/planner/fake_channel.h"

namespace canopy::bench {

bool CountingChannel::Send(const v1::NodeInstruction& instruction) {
  instructions_.fetch_add(1, std::memory_order_relaxed);
  switch (instruction.body_case()) {
    case v1::NodeInstruction::kTable:
      tables_.fetch_add(1, std::memory_order_relaxed);
      flow_entries_.fetch_add(static_cast<uint64_t>(instruction.table().flows_size()),
                              std::memory_order_relaxed);
      last_version_.store(instruction.table().version(), std::memory_order_relaxed);
      break;
    case v1::NodeInstruction::kProbePeers: {
      absl::MutexLock lock(&mu_);
      probe_peers_ = instruction.probe_peers();
      break;
    }
    case v1::NodeInstruction::kSourceRejected:
      rejections_.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
  return true;
}

v1::ProbePeers CountingChannel::probe_peers() const {
  absl::MutexLock lock(&mu_);
  return probe_peers_;
}

void CountingChannel::Close() { closed_.store(true, std::memory_order_relaxed); }

}  // namespace canopy::bench
