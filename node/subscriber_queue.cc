#include "node/subscriber_queue.h"

#include <atomic>
#include <utility>

#include "absl/cleanup/cleanup.h"

namespace canopy::node {

namespace {
std::atomic<uint64_t> next_subscriber_id{1};
}  // namespace

SubscriberQueue::SubscriberQueue(std::string group, v1::SourceFilter filter,
                                 size_t high_watermark_bytes, size_t low_watermark_bytes,
                                 std::string member)
    : group_(std::move(group)),
      filter_(std::move(filter)),
      member_(std::move(member)),
      id_(next_subscriber_id.fetch_add(1)),
      high_watermark_bytes_(high_watermark_bytes),
      low_watermark_bytes_(low_watermark_bytes) {}

size_t SubscriberQueue::Cost(const DeliveryItem& item) {
  return item.frame ? item.frame->bytes().size() : 0;
}

bool SubscriberQueue::Push(DeliveryItem item) {
  std::function<void()> waiter;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    bytes_ += Cost(item);
    items_.push_back(std::move(item));
    waiter = std::exchange(nonempty_waiter_, nullptr);
  }
  if (waiter) waiter();
  return true;
}

void SubscriberQueue::NotifyWhenNonEmpty(std::function<void()> ready) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_ && items_.empty()) {
      nonempty_waiter_ = std::move(ready);
      return;
    }
  }
  ready();
}

bool SubscriberQueue::PushDroppingOldest(DeliveryItem item) {
  std::function<void()> waiter;
  absl::Cleanup notify = [&waiter] {
    if (waiter) waiter();
  };
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  bytes_ += Cost(item);
  items_.push_back(std::move(item));
  waiter = std::exchange(nonempty_waiter_, nullptr);
  // Keep the events and the newest message.
  for (auto it = items_.begin(); bytes_ > high_watermark_bytes_ && std::next(it) != items_.end();) {
    if (it->frame == nullptr) {
      ++it;
      continue;
    }
    bytes_ -= Cost(*it);
    it = items_.erase(it);
    ++dropped_;
  }
  return true;
}

uint64_t SubscriberQueue::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

bool SubscriberQueue::OverHighWatermark() const {
  absl::MutexLock lock(&mu_);
  return bytes_ > high_watermark_bytes_;
}

void SubscriberQueue::NotifyWhenDrained(std::function<void()> ready) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_ && bytes_ > low_watermark_bytes_) {
      drain_waiters_.push_back(std::move(ready));
      return;
    }
  }
  ready();
}

std::vector<std::function<void()>> SubscriberQueue::TakeWaitersIfDrained() {
  if (!closed_ && bytes_ > low_watermark_bytes_) return {};
  return std::exchange(drain_waiters_, {});
}

std::optional<DeliveryItem> SubscriberQueue::Pop(absl::Duration timeout) {
  std::vector<DeliveryItem> items = PopBatch(timeout, 1, 0);
  if (items.empty()) return std::nullopt;
  return std::move(items.front());
}

std::vector<DeliveryItem> SubscriberQueue::PopBatch(absl::Duration timeout, size_t max_items,
                                                    size_t max_bytes) {
  std::vector<DeliveryItem> items;
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !items_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&available), timeout);
    if (closed_) return items;
    size_t taken_bytes = 0;
    while (!items_.empty() && items.size() < max_items &&
           (items.empty() || taken_bytes < max_bytes)) {
      const size_t cost = Cost(items_.front());
      items.push_back(std::move(items_.front()));
      items_.pop_front();
      bytes_ -= cost;
      taken_bytes += cost;
    }
    taken_bytes_ += taken_bytes;
    ready = TakeWaitersIfDrained();
  }
  for (auto& f : ready) f();
  return items;
}

void SubscriberQueue::Close(absl::Status why) {
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    closed_status_ = std::move(why);
    items_.clear();
    bytes_ = 0;
    ready = std::exchange(drain_waiters_, {});
    if (nonempty_waiter_) ready.push_back(std::exchange(nonempty_waiter_, nullptr));
  }
  for (auto& f : ready) f();
}

bool SubscriberQueue::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

absl::Status SubscriberQueue::closed_status() const {
  absl::MutexLock lock(&mu_);
  return closed_status_;
}

uint64_t SubscriberQueue::join_report_seq() const {
  absl::MutexLock lock(&mu_);
  return join_report_seq_;
}

void SubscriberQueue::set_join_report_seq(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  if (join_report_seq_ == 0) join_report_seq_ = seq;
}

bool SubscriberQueue::joined() const {
  absl::MutexLock lock(&mu_);
  return joined_;
}

void SubscriberQueue::MarkJoined() {
  std::function<void()> waiter;
  {
    absl::MutexLock lock(&mu_);
    if (joined_ || closed_) return;
    joined_ = true;
    items_.push_front(DeliveryItem{});
    TellCutOffLocked();
    waiter = std::exchange(nonempty_waiter_, nullptr);
  }
  if (waiter) waiter();
}

void SubscriberQueue::SetCutOff(std::map<std::string, std::string> cut_off) {
  std::function<void()> waiter;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    cut_off_ = std::move(cut_off);
    if (!joined_) return;
    TellCutOffLocked();
    if (!items_.empty()) waiter = std::exchange(nonempty_waiter_, nullptr);
  }
  if (waiter) waiter();
}

void SubscriberQueue::TellCutOffLocked() {
  auto tell = [&](const std::string& source, bool reachable, const std::string& reason) {
    auto status = std::make_shared<v1::SourceStatus>();
    status->set_source(source);
    status->set_reachable(reachable);
    status->set_reason(reason);
    items_.push_back(DeliveryItem{nullptr, nullptr, std::move(status)});
  };
  for (const auto& [source, reason] : cut_off_) {
    auto told = cut_off_told_.find(source);
    if (told == cut_off_told_.end() || told->second != reason) tell(source, false, reason);
  }
  for (const auto& [source, reason] : cut_off_told_) {
    if (!cut_off_.contains(source)) tell(source, true, "");
  }
  cut_off_told_ = cut_off_;
}

size_t SubscriberQueue::QueuedBytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

uint64_t SubscriberQueue::TakenBytes() const {
  absl::MutexLock lock(&mu_);
  return taken_bytes_;
}

}  // namespace canopy::node
