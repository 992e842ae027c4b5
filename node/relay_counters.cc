#include "node/relay_counters.h"

namespace canopy::node {

RelayCounters RelayTally::Read() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  RelayCounters c;
  c.duplicates_dropped = duplicates_dropped.load(kRelaxed);
  c.unknown_flow_dropped = unknown_flow_dropped.load(kRelaxed);
  c.disallowed_dropped = disallowed_dropped.load(kRelaxed);
  c.not_from_parent_dropped = not_from_parent_dropped.load(kRelaxed);
  c.out_of_order_dropped = out_of_order_dropped.load(kRelaxed);
  c.resumes_sent = resumes_sent.load(kRelaxed);
  c.resumes_served = resumes_served.load(kRelaxed);
  c.resumes_held = resumes_held.load(kRelaxed);
  c.frames_replayed = frames_replayed.load(kRelaxed);
  c.sequences_lost = sequences_lost.load(kRelaxed);
  c.multicast_frames_sent = multicast_frames_sent.load(kRelaxed);
  c.multicast_frames_received = multicast_frames_received.load(kRelaxed);
  c.multicast_repairs_asked = multicast_repairs_asked.load(kRelaxed);
  return c;
}

}  // namespace canopy::node
