#include "node/child_links.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "base/address.h"
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
        ScheduleRelink(child, options_.relink_delay);
      });
  slot->set_link(std::move(link));
}

void ChildLinks::ScheduleRelink(const std::string& node_id, absl::Duration delay) {
  scheduler_.After(delay, [this, node_id] {
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

void ChildLinks::Detach(const std::shared_ptr<wire::QueuedLink>& link) {
  const std::string& child = link->peer_node();
  absl::Duration backoff = options_.detach_after;
  {
    absl::MutexLock lock(&mu_);
    auto it = children_.find(child);
    if (it != children_.end()) {
      Entry& entry = it->second;
      const absl::Time now = scheduler_.Now();
      if (now - entry.last_detach > 2 * options_.max_relink_backoff) entry.detaches = 0;
      for (int i = 0; i < entry.detaches && backoff < options_.max_relink_backoff; ++i) {
        backoff *= 2;
      }
      backoff = std::min(backoff, options_.max_relink_backoff);
      ++entry.detaches;
      entry.last_detach = now;
    }
  }
  spdlog::warn(
      "detaching child {}: its link stayed full and took under {} KiB in {}; linking it again "
      "in {}",
      child, options_.min_progress_bytes >> 10, absl::FormatDuration(options_.detach_after),
      absl::FormatDuration(backoff));
  link->Close();
  ScheduleRelink(child, backoff);
}

// One AwaitDrain: finishes once, when the last receiver drained or when a
// look finds no receiver both full and still draining.
struct ChildLinks::DrainWait {
  Pressure pressure;
  std::atomic<size_t> pending{0};
  std::atomic<bool> finished{false};
  std::function<void()> done;
  // What each receiver had taken at the last look (scheduler thread).
  std::vector<uint64_t> link_marks;
  std::vector<uint64_t> subscriber_marks;
  void Finish() {
    if (!finished.exchange(true)) done();
  }
};

void ChildLinks::AwaitDrain(Pressure pressure, std::function<void()> done) {
  auto wait = std::make_shared<DrainWait>();
  wait->pending = pressure.links.size() + pressure.subscribers.size();
  wait->done = std::move(done);
  if (wait->pending == 0) {
    wait->Finish();
    return;
  }
  for (const auto& link : pressure.links) wait->link_marks.push_back(link->WrittenBytes());
  for (const auto& subscriber : pressure.subscribers) {
    wait->subscriber_marks.push_back(subscriber->TakenBytes());
  }
  wait->pressure = std::move(pressure);
  scheduler_.After(options_.detach_after, [this, wait] { LookAtDrain(wait); });
  auto one_drained = [wait] {
    if (wait->pending.fetch_sub(1) == 1) wait->Finish();
  };
  for (const auto& link : wait->pressure.links) link->NotifyWhenDrained(one_drained);
  for (const auto& subscriber : wait->pressure.subscribers) {
    subscriber->NotifyWhenDrained(one_drained);
  }
}

void ChildLinks::LookAtDrain(const std::shared_ptr<DrainWait>& wait) {
  if (wait->finished.load()) return;  // everything drained
  bool draining = false;
  for (size_t i = 0; i < wait->pressure.links.size(); ++i) {
    const auto& link = wait->pressure.links[i];
    if (link->closed() || !link->OverHighWatermark()) continue;
    const uint64_t written = link->WrittenBytes();
    if (written - wait->link_marks[i] < options_.min_progress_bytes) {
      Detach(link);
    } else {
      wait->link_marks[i] = written;
      draining = true;
    }
  }
  for (size_t i = 0; i < wait->pressure.subscribers.size(); ++i) {
    const auto& subscriber = wait->pressure.subscribers[i];
    if (subscriber->closed() || !subscriber->OverHighWatermark()) continue;
    const uint64_t taken = subscriber->TakenBytes();
    if (taken - wait->subscriber_marks[i] < options_.min_progress_bytes) {
      subscriber->Close(absl::ResourceExhaustedError(
          absl::StrCat("subscriber of group '", subscriber->group(), "' did not keep up for ",
                       absl::FormatDuration(options_.detach_after), " and was detached")));
    } else {
      wait->subscriber_marks[i] = taken;
      draining = true;
    }
  }
  if (!draining) {
    wait->Finish();
    return;
  }
  scheduler_.After(options_.detach_after, [this, wait] { LookAtDrain(wait); });
}

}  // namespace canopy::node
