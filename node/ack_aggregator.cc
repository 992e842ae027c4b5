#include "node/ack_aggregator.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/source_filter.h"

namespace canopy::node {
namespace {

// The local subscribers of `route`'s flow that its acknowledgements count:
// those whose filter admits the source, by id. A subscriber without a
// member name (a gateway re-emitting to programs on its LAN) can never
// acknowledge and is not counted: a summary naming it would be malformed.
std::vector<AckReceiver> ReceiversOf(const FlowRoute& route) {
  std::vector<AckReceiver> out;
  if (route.subscribers == nullptr) return out;
  const std::shared_ptr<const GroupSubscribers::List> list = route.subscribers->Load();
  for (const std::shared_ptr<SubscriberQueue>& s : *list) {
    if (s->closed() || s->member().empty() || !Admits(s->filter(), route.source())) continue;
    out.push_back({s->id(), s->member()});
  }
  std::sort(out.begin(), out.end(),
            [](const AckReceiver& a, const AckReceiver& b) { return a.id < b.id; });
  return out;
}

std::vector<std::string> ChildrenOf(const FlowRoute& route) {
  std::vector<std::string> out;
  for (const FlowRoute::Child& c : route.children) out.push_back(c.slot->node_id());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

void AckAggregator::Outgoing::Run() {
  for (auto& [link, frame] : frames) link->Send(std::move(frame));
  for (auto& [watcher, summary] : calls) watcher(summary);
}

AckAggregator::AckAggregator(AckAggregatorOptions options, std::string node_id,
                             Scheduler& scheduler, ParentLinks& parents,
                             std::function<std::shared_ptr<const FlowTable>()> table)
    : options_(options),
      node_id_(std::move(node_id)),
      scheduler_(scheduler),
      parents_(parents),
      table_(std::move(table)) {}

AckAggregator::Flow& AckAggregator::FlowFor(const FlowRoute& route) {
  auto [it, inserted] = flows_.try_emplace(Key{route.group(), route.source()}, node_id_, options_);
  Flow& flow = it->second;
  if (inserted) {
    const absl::Time now = scheduler_.Now();
    flow.tally.SetChildren(ChildrenOf(route), now);
    flow.tally.SetReceivers(ReceiversOf(route), now);
    flow.dirty.insert(0);  // the roster goes up once the flow is known
  }
  return flow;
}

absl::Status AckAggregator::OnLocalAck(const SubscriberQueue& who, uint32_t group_handle,
                                       uint32_t source_id, uint64_t object_id) {
  if (object_id == 0) return absl::InvalidArgumentError("an ACK of object 0");
  const std::shared_ptr<const FlowTable> table = table_();
  const FlowRoute* route = table->Find(group_handle, source_id);
  if (route == nullptr || route->retired) return absl::OkStatus();  // the flow ended here
  if (route->group() != who.group()) {
    return absl::InvalidArgumentError(
        absl::StrCat("an ACK names a flow of group ", route->group(), "; the subscription is to ",
                     who.group()));
  }
  if (!Admits(who.filter(), route->source())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an ACK names source ", route->source(), ", which the subscription's filter refuses"));
  }
  Outgoing out;
  {
    absl::MutexLock lock(&mu_);
    Flow& flow = FlowFor(*route);
    if (flow.tally.Ack({who.id(), who.member()}, object_id, scheduler_.Now())) {
      Changed(*route, flow, object_id, out);
    }
  }
  out.Run();
  return absl::OkStatus();
}

void AckAggregator::OnChildSummary(const FlowRoute& route, const std::string& child,
                                   const wire::AckSummary& summary) {
  Outgoing out;
  {
    absl::MutexLock lock(&mu_);
    Flow& flow = FlowFor(route);
    if (!flow.tally.OnChildSummary(child, summary, scheduler_.Now())) return;
    if (summary.object_id == 0) {
      // A roster stands in for the child in every object it has not spoken of.
      for (uint64_t o : flow.tally.Objects()) flow.dirty.insert(o);
    }
    Changed(route, flow, summary.object_id, out);
  }
  out.Run();
}

void AckAggregator::Changed(const FlowRoute& route, Flow& flow, uint64_t object_id,
                            Outgoing& out) {
  flow.dirty.insert(object_id);
  if (object_id != 0 && flow.tally.Complete(object_id)) {
    Flush(route, flow, out, object_id);
  } else if (!flow.flush_scheduled) {
    // The first change in a while goes at once (a receiver that
    // acknowledges and leaves may take its node out of the tree soon
    // after); later ones wait for the flush scheduled here.
    Flush(route, flow, out);
    ScheduleFlush(Key{route.group(), route.source()}, flow);
    return;
  }
  if (!flow.dirty.empty()) ScheduleFlush(Key{route.group(), route.source()}, flow);
}

void AckAggregator::ScheduleFlush(const Key& key, Flow& flow) {
  if (flow.flush_scheduled) return;
  flow.flush_scheduled = true;
  scheduler_.After(options_.coalesce, [this, key] { FlushLater(key); });
}

void AckAggregator::FlushLater(const Key& key) {
  const std::shared_ptr<const FlowTable> table = table_();
  const FlowRoute* route = table->Find(key.first, key.second);
  Outgoing out;
  {
    absl::MutexLock lock(&mu_);
    auto it = flows_.find(key);
    if (it == flows_.end()) return;
    it->second.flush_scheduled = false;
    if (route != nullptr && !route->retired) Flush(*route, it->second, out);
  }
  out.Run();
}

void AckAggregator::Flush(const FlowRoute& route, Flow& flow, Outgoing& out,
                          std::optional<uint64_t> object_id) {
  const bool root = route.parent().empty();
  std::shared_ptr<wire::FrameSender> link;
  std::vector<Watcher> watchers;
  if (root) {
    for (const auto& [id, w] : watchers_) {
      if (w.key.first == route.group() && w.key.second == route.source()) {
        watchers.push_back(w.watcher);
      }
    }
  } else {
    link = parents_.Find(route.parent(), route.entry.parent_token());
    if (link == nullptr) return;  // no link from the parent yet: the tick tries again
    if (link != flow.sent_to.lock()) {
      // A new parent, or a new link from it: it has heard nothing.
      flow.sent.clear();
      flow.sent_to = link;
      flow.dirty.insert(0);
      for (uint64_t o : flow.tally.Objects()) flow.dirty.insert(o);
      object_id.reset();
    }
  }
  const std::vector<uint64_t> known = flow.tally.Objects();
  for (auto it = flow.dirty.begin(); it != flow.dirty.end();) {
    const uint64_t o = *it;
    if (object_id && o != *object_id) {
      ++it;
      continue;
    }
    it = flow.dirty.erase(it);
    if (o != 0 && std::find(known.begin(), known.end(), o) == known.end()) continue;  // forgotten
    wire::AckSummary s = flow.tally.Summarize(o);
    auto sent = flow.sent.find(o);
    if (sent != flow.sent.end() && sent->second == s) continue;
    if (root) {
      for (const Watcher& w : watchers) out.calls.emplace_back(w, s);
    } else {
      out.frames.emplace_back(link, wire::MakeAckSummary(route.group_handle(), route.source_id(), s));
    }
    flow.sent[o] = std::move(s);
  }
}

uint64_t AckAggregator::Watch(const std::string& group, const std::string& source,
                              Watcher watcher) {
  std::optional<wire::AckSummary> roster;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_watch_++;
    watchers_[id] = Watching{Key{group, source}, watcher};
    auto flow = flows_.find(Key{group, source});
    if (flow != flows_.end()) roster = flow->second.tally.Summarize(0);
  }
  // A new watcher learns at once who would acknowledge.
  if (roster) watcher(*roster);
  return id;
}

void AckAggregator::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void AckAggregator::Tick() {
  const std::shared_ptr<const FlowTable> table = table_();
  const absl::Time now = scheduler_.Now();
  Outgoing out;
  {
    absl::MutexLock lock(&mu_);
    std::set<Key> live;
    for (const FlowRoute* route : table->routes()) {
      if (route->retired) continue;
      live.insert(Key{route->group(), route->source()});
      Flow& flow = FlowFor(*route);
      const bool children = flow.tally.SetChildren(ChildrenOf(*route), now);
      const bool receivers = flow.tally.SetReceivers(ReceiversOf(*route), now);
      const bool forgot = flow.tally.ForgetIdle(now - options_.forget_after, now);
      const std::vector<uint64_t> known = flow.tally.Objects();
      absl::erase_if(flow.sent, [&](const auto& kv) {
        return kv.first != 0 && std::find(known.begin(), known.end(), kv.first) == known.end();
      });
      if (children || receivers || forgot) {
        flow.dirty.insert(0);
        flow.dirty.insert(known.begin(), known.end());
      }
      if (!route->parent().empty() && now >= flow.next_refresh) {
        flow.next_refresh = now + options_.refresh_every;
        flow.sent.erase(0);
        flow.dirty.insert(0);
        for (uint64_t o : flow.tally.ObjectsSince(now - options_.refresh_window)) {
          flow.sent.erase(o);
          flow.dirty.insert(o);
        }
      }
      if (!flow.dirty.empty()) Flush(*route, flow, out);
    }
    for (auto it = flows_.begin(); it != flows_.end();) {
      it = live.contains(it->first) ? std::next(it) : flows_.erase(it);
    }
  }
  out.Run();
}

}  // namespace canopy::node
