#include "node/fan_out.h"

#include <algorithm>

#include "proto/source_filter.h"

namespace canopy::node {

Pressure FanOut::Dispatch(const FlowRoute& route, const wire::FramePtr& frame, FlowState& flow) {
  Pressure pressure;
  budget_.Remember(flow, frame);
  flow.bytes_handed_on.fetch_add(frame->payload().size(), std::memory_order_relaxed);
  uint64_t copies = 0;
  uint64_t overflow = 0;
  bool multicast_sent = false;
  for (const FlowRoute::Child& child : route.children) {
    if (child.via_multicast && multicast_ != nullptr && route.entry.multicast_emit()) {
      // One multicast copy serves every child on the LAN; their links
      // carry only the repairs they ask for.
      if (!multicast_sent) {
        multicast_sent = true;
        ++copies;
        const int ttl = std::max<int>(1, static_cast<int>(route.entry.ttl()));
        multicast_->Send(route.entry.multicast_group(), ttl, *frame)
            .IgnoreError();  // counted by the channel; receivers repair
        flow.multicast_tail = FlowState::MulticastTail{frame, route.entry.multicast_group(), ttl,
                                                       scheduler_.Now(), 0};
        RelayTally::Add(tally_.multicast_frames_sent);
      }
      continue;
    }
    std::shared_ptr<wire::QueuedLink> link = child.slot->link();
    if (link == nullptr) continue;
    ++copies;
    if (route.realtime) {
      const uint64_t before = link->dropped_frames();
      link->SendDroppingOldest(frame);
      overflow += link->dropped_frames() - before;
      continue;
    }
    if (!link->Send(frame)) continue;
    if (link->OverHighWatermark()) pressure.links.push_back(std::move(link));
  }
  if (route.subscribers != nullptr) {
    const std::shared_ptr<const GroupSubscribers::List> subscribers = route.subscribers->Load();
    for (const std::shared_ptr<SubscriberQueue>& subscriber : *subscribers) {
      if (!Admits(subscriber->filter(), route.source())) continue;
      ++copies;
      if (route.realtime) {
        const uint64_t before = subscriber->dropped();
        subscriber->PushDroppingOldest(DeliveryItem{frame, route.names});
        overflow += subscriber->dropped() - before;
        continue;
      }
      const wire::FramePtr delivered = faults_ != nullptr ? faults_->MaybeCorrupt(frame) : frame;
      if (!subscriber->Push(DeliveryItem{delivered, route.names})) continue;
      if (subscriber->OverHighWatermark()) pressure.subscribers.push_back(subscriber);
    }
  }
  if (route.counters != nullptr) {
    if (copies > 0) route.counters->CountOut(frame->payload().size(), copies);
    if (overflow > 0) route.counters->CountDrop(DropReason::kRealtimeOverflow, overflow);
  }
  if (!flow.repairs.empty()) repair_.Advance(route.state != nullptr ? &route : nullptr, flow);
  return pressure;
}

}  // namespace canopy::node
