#include "node/edge_report.h"

#include <algorithm>
#include <string>
#include <utility>

namespace canopy::node {

v1::TrafficReport BuildTrafficReport(const FlowStates& flows,
                                     const std::vector<std::shared_ptr<wire::QueuedLink>>& links) {
  v1::TrafficReport report;
  std::vector<std::pair<FlowStates::Key, std::shared_ptr<FlowState>>> all = flows.All();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, state] : all) {
    if (static_cast<size_t>(report.flows_size()) >= kMaxTrafficFlows) break;
    v1::FlowTraffic* f = report.add_flows();
    f->set_group(key.first);
    f->set_source(key.second);
    {
      absl::MutexLock flow_lock(&state->mu);
      f->set_sequence(state->last);
    }
    f->set_bytes(state->bytes_handed_on.load(std::memory_order_relaxed));
    f->set_repairs(state->resumes_sent.load(std::memory_order_relaxed));
  }
  std::vector<std::shared_ptr<wire::QueuedLink>> sorted = links;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a->peer_node() < b->peer_node(); });
  for (const std::shared_ptr<wire::QueuedLink>& link : sorted) {
    if (static_cast<size_t>(report.links_size()) >= kMaxTrafficLinks) break;
    v1::LinkTraffic* l = report.add_links();
    l->set_node_id(link->peer_node());
    l->set_queued_bytes(link->QueuedBytes());
    l->set_dropped_frames(link->dropped_frames());
  }
  return report;
}

}  // namespace canopy::node
