#include "node/child_links.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "proto/address.h"
#include "spdlog/spdlog.h"

namespace canopy::node {

void Pressure::Absorb(Pressure other) {
  links.insert(links.end(), std::make_move_iterator(other.links.begin()),
               std::make_move_iterator(other.links.end()));
  subscribers.insert(subscribers.end(), std::make_move_iterator(other.subscribers.begin()),
                     std::make_move_iterator(other.subscribers.end()));
}

ChildLinks::ChildLinks(ChildLinksOptions options, Scheduler& scheduler, ChildLinkFactory factory,
                       wire::ControlHandler on_control)
    : options_(options),
      scheduler_(scheduler),
      factory_(std::move(factory)),
      on_control_(std::move(on_control)) {}

std::shared_ptr<ChildSlot> ChildLinks::Slot(const v1::Hop& hop) {
  absl::StatusOr<HostPort> parsed = ParseHostPort(hop.data_address());
  if (!parsed.ok()) {
    spdlog::error("child {}: {}", hop.node_id(), std::string(parsed.status().message()));
    return nullptr;
  }
  const wire::Endpoint address{parsed->host, parsed->port};
  absl::MutexLock lock(&mu_);
  if (closed_) return nullptr;
  auto [it, inserted] = children_.try_emplace(hop.node_id());
  Entry& entry = it->second;
  if (inserted) entry.slot = std::make_shared<ChildSlot>(hop.node_id());
  std::shared_ptr<wire::QueuedLink> link = entry.slot->link();
  const bool moved = !(entry.address.host == address.host && entry.address.port == address.port);
  if (link == nullptr || link->closed() || moved) {
    if (link != nullptr) link->Close();
    entry.address = address;
    Open(entry.slot, address);
  }
  return entry.slot;
}

void ChildLinks::Open(const std::shared_ptr<ChildSlot>& slot, const wire::Endpoint& address) {
  const std::string child = slot->node_id();
  // The closed callback may run before the factory returns: it only
  // schedules a relink, which checks the slot again later.
  std::shared_ptr<wire::QueuedLink> link =
      factory_(child, address, on_control_, [this, child](const absl::Status& status) {
        if (status.ok()) return;
        spdlog::warn("link to child {} closed: {}", child, std::string(status.message()));
        ScheduleRelink(child);
      });
  slot->set_link(std::move(link));
}

void ChildLinks::ScheduleRelink(const std::string& node_id) {
  scheduler_.After(options_.relink_delay, [this, node_id] {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    auto it = children_.find(node_id);
    if (it == children_.end()) return;  // the table no longer names it
    std::shared_ptr<wire::QueuedLink> link = it->second.slot->link();
    if (link != nullptr && !link->closed()) return;  // opened again meanwhile
    // A child that is still in the table gets its link back (a restarted
    // node resumes through it).
    Open(it->second.slot, it->second.address);
  });
}

std::vector<std::string> ChildLinks::Retain(const absl::flat_hash_set<std::string>& keep) {
  std::vector<std::shared_ptr<wire::QueuedLink>> stale;
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = children_.begin(); it != children_.end();) {
      if (keep.contains(it->first)) {
        ++it;
        continue;
      }
      if (auto link = it->second.slot->link()) stale.push_back(std::move(link));
      ids.push_back(it->first);
      children_.erase(it++);
    }
  }
  for (auto& link : stale) link->Close();
  return ids;
}

void ChildLinks::CloseAll() {
  std::vector<std::shared_ptr<wire::QueuedLink>> links;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& [id, entry] : children_) {
      if (auto link = entry.slot->link()) links.push_back(std::move(link));
    }
    children_.clear();
  }
  for (auto& link : links) link->Close();
}

std::vector<std::shared_ptr<wire::QueuedLink>> ChildLinks::Links() const {
  std::vector<std::shared_ptr<wire::QueuedLink>> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : children_) {
    if (auto link = entry.slot->link()) out.push_back(std::move(link));
  }
  return out;
}

void ChildLinks::AwaitDrain(Pressure pressure, std::function<void()> done) {
  // Finishes once: when the last receiver drained, or at the detach
  // deadline, whichever comes first.
  struct Waiting {
    std::atomic<size_t> pending{0};
    std::atomic<bool> finished{false};
    std::function<void()> done;
    void Finish() {
      if (!finished.exchange(true)) done();
    }
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->pending = pressure.links.size() + pressure.subscribers.size();
  waiting->done = std::move(done);
  if (waiting->pending == 0) {
    waiting->Finish();
    return;
  }
  auto one_drained = [waiting] {
    if (waiting->pending.fetch_sub(1) == 1) waiting->Finish();
  };
  scheduler_.After(options_.detach_after, [this, waiting, pressure] {
    if (waiting->finished.load()) return;  // everything drained in time
    for (const auto& link : pressure.links) {
      if (link->OverHighWatermark()) {
        spdlog::warn("detaching child {}: its link stayed full for {}", link->peer_node(),
                     absl::FormatDuration(options_.detach_after));
        link->Close();
      }
    }
    for (const auto& subscriber : pressure.subscribers) {
      if (subscriber->OverHighWatermark()) {
        subscriber->Close(absl::ResourceExhaustedError(
            absl::StrCat("subscriber of group '", subscriber->group(), "' did not keep up for ",
                         absl::FormatDuration(options_.detach_after), " and was detached")));
      }
    }
    waiting->Finish();
  });
  for (const auto& link : pressure.links) link->NotifyWhenDrained(one_drained);
  for (const auto& subscriber : pressure.subscribers) subscriber->NotifyWhenDrained(one_drained);
}

}  // namespace canopy::node
