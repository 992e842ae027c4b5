#include "node/child_links.h"

#include <algorithm>
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

void ChildLinks::AwaitDrain(Pressure pressure, std::function<void()> done) {
  // Finishes once: when the last receiver drained, or when a look at the
  // detach deadline finds no receiver both full and still draining.
  struct Waiting {
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
  auto waiting = std::make_shared<Waiting>();
  waiting->pending = pressure.links.size() + pressure.subscribers.size();
  waiting->done = std::move(done);
  if (waiting->pending == 0) {
    waiting->Finish();
    return;
  }
  for (const auto& link : pressure.links) waiting->link_marks.push_back(link->WrittenBytes());
  for (const auto& subscriber : pressure.subscribers) {
    waiting->subscriber_marks.push_back(subscriber->TakenBytes());
  }
  auto one_drained = [waiting] {
    if (waiting->pending.fetch_sub(1) == 1) waiting->Finish();
  };
  // Looks every detach_after; holds only a weak reference to itself.
  auto look = std::make_shared<std::function<void()>>();
  *look = [this, waiting, pressure, weak_look = std::weak_ptr<std::function<void()>>(look)] {
    if (waiting->finished.load()) return;  // everything drained
    bool draining = false;
    for (size_t i = 0; i < pressure.links.size(); ++i) {
      const auto& link = pressure.links[i];
      if (link->closed() || !link->OverHighWatermark()) continue;
      const uint64_t written = link->WrittenBytes();
      if (written - waiting->link_marks[i] < options_.min_progress_bytes) {
        Detach(link);
      } else {
        waiting->link_marks[i] = written;
        draining = true;
      }
    }
    for (size_t i = 0; i < pressure.subscribers.size(); ++i) {
      const auto& subscriber = pressure.subscribers[i];
      if (subscriber->closed() || !subscriber->OverHighWatermark()) continue;
      const uint64_t taken = subscriber->TakenBytes();
      if (taken - waiting->subscriber_marks[i] < options_.min_progress_bytes) {
        subscriber->Close(absl::ResourceExhaustedError(
            absl::StrCat("subscriber of group '", subscriber->group(), "' did not keep up for ",
                         absl::FormatDuration(options_.detach_after), " and was detached")));
      } else {
        waiting->subscriber_marks[i] = taken;
        draining = true;
      }
    }
    if (!draining) {
      waiting->Finish();
      return;
    }
    if (auto again = weak_look.lock()) {
      scheduler_.After(options_.detach_after, [again] { (*again)(); });
    }
  };
  scheduler_.After(options_.detach_after, [look] { (*look)(); });
  for (const auto& link : pressure.links) link->NotifyWhenDrained(one_drained);
  for (const auto& subscriber : pressure.subscribers) subscriber->NotifyWhenDrained(one_drained);
}

}  // namespace canopy::node
