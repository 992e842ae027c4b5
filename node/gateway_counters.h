#ifndef CANOPY_NODE_GATEWAY_COUNTERS_H_
#define CANOPY_NODE_GATEWAY_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "node/native_scope.h"

namespace canopy::node {

// What a node's gateways did with native datagrams, for /metrics
// (canopy_node_gateway_*): carried into the overlay, re-emitted on the LAN,
// and kept on the LAN for scope, by reason; and what IGMP-driven gateways
// heard: IGMP messages by outcome, and the groups learned now.
//
// Thread-safe (relaxed atomics; readers see each counter eventually).
class GatewayCounters {
 public:
  void CountCaptured() { captured_.fetch_add(1, std::memory_order_relaxed); }
  void CountEmitted() { emitted_.fetch_add(1, std::memory_order_relaxed); }
  // REQUIRES: reason != ScopeReason::kNone.
  void CountKept(ScopeReason reason) {
    kept_[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
  }

  // What became of an IGMP message heard on the LAN.
  enum class Igmp { kAccepted, kMalformed, kSpoofed, kRefused, kCount };
  void CountIgmp(Igmp what) {
    igmp_[static_cast<int>(what)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t igmp(Igmp what) const {
    return igmp_[static_cast<int>(what)].load(std::memory_order_relaxed);
  }
  void SetLearnedGroups(uint64_t n) { learned_groups_.store(n, std::memory_order_relaxed); }
  uint64_t learned_groups() const { return learned_groups_.load(std::memory_order_relaxed); }

  uint64_t captured() const { return captured_.load(std::memory_order_relaxed); }
  uint64_t emitted() const { return emitted_.load(std::memory_order_relaxed); }
  uint64_t kept(ScopeReason reason) const {
    return kept_[static_cast<int>(reason)].load(std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> captured_{0};
  std::atomic<uint64_t> emitted_{0};
  std::array<std::atomic<uint64_t>, kScopeReasons> kept_{};
  std::array<std::atomic<uint64_t>, static_cast<int>(Igmp::kCount)> igmp_{};
  std::atomic<uint64_t> learned_groups_{0};
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_GATEWAY_COUNTERS_H_
