#ifndef CANOPY_BENCH_RELAY_RELAY_FLOWS_H_
#define CANOPY_BENCH_RELAY_RELAY_FLOWS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/overlay.h"
#include "canopy/transport.h"

namespace canopy::bench {

// One measured flow: an in-process Publisher (client SDK) on `ingress`, one
// in-process Subscriber on each of `receivers`, source id "bench".
struct FlowSpec {
  std::string group;
  std::string ingress;
  std::vector<std::string> receivers;
  // How the publisher and subscribers reach their nodes: TCP client links
  // unless a phase measures shared memory.
  Transport transport = Transport::kClientLink;
};

struct ThroughputResult {
  // Payload bytes delivered to all subscribers together in the window.
  uint64_t delivered_bytes = 0;
  double window_seconds = 0;
  double delivered_bytes_per_s = 0;
  // CPU seconds (utime + stime) each overlay node used in the window.
  std::map<std::string, double> node_cpu_seconds;
  // CPU seconds this process (publisher and subscribers, client SDK) used.
  double client_cpu_seconds = 0;
  // The tree the controller planned, as text.
  std::string tree;
};

// Publishes `message_bytes` messages as fast as the tree takes them. After
// `warmup`, counts the payload bytes subscribers receive for `window`.
// Every wait is bounded: joins and tree set-up 15 s each, stopping the
// publisher 10 s (the ingress node is killed if a Send() stays blocked).
absl::StatusOr<ThroughputResult> MeasureThroughput(testing::Overlay& overlay, const FlowSpec& flow,
                                                   size_t message_bytes, absl::Duration warmup,
                                                   absl::Duration window);

struct LatencyResult {
  // Publish → delivery time of each message after the first tenth, in µs
  // (send and receive clocks are the same monotonic clock).
  std::vector<double> micros;
  int sent = 0;
  int received = 0;
  std::string tree;
};

// Publishes `count` messages of `message_bytes` at `rate_per_s` (open loop),
// each stamped with its send time, to a flow with one receiver.
// REQUIRES: flow.receivers.size() == 1, message_bytes >= 8.
// What `count` idle subscriptions to one node cost it.
struct IdleCost {
  int subscriptions = 0;
  long threads_before = 0;
  long threads_after = 0;
  long rss_kib_before = 0;
  long rss_kib_after = 0;
};

// Opens `count` subscriptions of group `group` on `node` with `transport`,
// waits until all joined (bounded: 60 s), reads the node's threads and
// resident memory, and closes them all again.
absl::StatusOr<IdleCost> MeasureIdleSubscriptions(testing::Overlay& overlay, const std::string& node,
                                                  const std::string& group, int count,
                                                  Transport transport);

absl::StatusOr<LatencyResult> MeasureLatency(testing::Overlay& overlay, const FlowSpec& flow,
                                             size_t message_bytes, int count, double rate_per_s);

}  // namespace canopy::bench

#endif  // CANOPY_BENCH_RELAY_RELAY_FLOWS_H_
