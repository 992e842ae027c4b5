#include "controller/traffic_top.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

namespace canopy::controller {

v1::TopResponse RankTraffic(const std::vector<v1::GetTreeResponse>& groups, size_t limit) {
  std::map<std::pair<std::string, std::string>, v1::HotLink> links;
  std::vector<v1::SlowReceiver> receivers;
  for (const v1::GetTreeResponse& group : groups) {
    for (const v1::SourceTree& tree : group.trees()) {
      for (const v1::TreeEdge& edge : tree.edges()) {
        if (!edge.has_traffic()) continue;
        const v1::EdgeTraffic& t = edge.traffic();
        v1::HotLink& link = links[{edge.parent(), edge.child()}];
        link.set_parent(edge.parent());
        link.set_child(edge.child());
        link.set_bytes_per_s(link.bytes_per_s() + t.bytes_per_s());
        link.set_messages_per_s(link.messages_per_s() + t.messages_per_s());
        link.set_flows(link.flows() + 1);
        if (auto up = tree.upload_bps().find(edge.parent()); up != tree.upload_bps().end()) {
          link.set_parent_upload_bps(up->second);
        }
        // Queue and drops are the link's, whichever flow reports them.
        link.set_queued_bytes(std::max(link.queued_bytes(), t.queued_bytes()));
        link.set_dropped_frames(std::max(link.dropped_frames(), t.dropped_frames()));
        link.set_lag_messages(std::max(link.lag_messages(), t.lag_messages()));
        link.set_lagging(link.lagging() || t.lagging());
      }
      if (!tree.has_traffic()) continue;
      for (const auto& [node, t] : tree.traffic().receivers()) {
        v1::SlowReceiver r;
        r.set_group(group.group());
        r.set_source(tree.source());
        r.set_node_id(node);
        *r.mutable_traffic() = t;
        receivers.push_back(std::move(r));
      }
    }
  }
  std::vector<v1::HotLink> ranked;
  for (auto& [key, link] : links) ranked.push_back(std::move(link));
  std::stable_sort(ranked.begin(), ranked.end(), [](const v1::HotLink& a, const v1::HotLink& b) {
    return std::make_tuple(-a.bytes_per_s(), !a.lagging(), -static_cast<double>(a.lag_messages())) <
           std::make_tuple(-b.bytes_per_s(), !b.lagging(), -static_cast<double>(b.lag_messages()));
  });
  std::stable_sort(receivers.begin(), receivers.end(),
                   [](const v1::SlowReceiver& a, const v1::SlowReceiver& b) {
                     const v1::EdgeTraffic& x = a.traffic();
                     const v1::EdgeTraffic& y = b.traffic();
                     return std::make_tuple(!x.lagging(), -static_cast<double>(x.lag_messages()),
                                            x.bytes_per_s()) <
                            std::make_tuple(!y.lagging(), -static_cast<double>(y.lag_messages()),
                                            y.bytes_per_s());
                   });
  v1::TopResponse response;
  for (size_t i = 0; i < ranked.size() && i < limit; ++i) *response.add_links() = ranked[i];
  for (size_t i = 0; i < receivers.size() && i < limit; ++i) {
    *response.add_receivers() = receivers[i];
  }
  return response;
}

}  // namespace canopy::controller
