#include "node/scheduler.h"

#include <chrono>
#include <memory>

#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"

namespace canopy::node {

void AsioScheduler::After(absl::Duration delay, std::function<void()> task) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (dropped_) return;
    id = next_id_++;
    pending_.emplace(id, std::move(task));
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(
      io_, std::chrono::microseconds(absl::ToInt64Microseconds(delay)));
  timer->async_wait([this, timer, id](const boost::system::error_code& ec) {
    std::function<void()> task = Take(id);
    if (!ec && task) task();
  });
}

void AsioScheduler::Post(std::function<void()> task) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (dropped_) return;
    id = next_id_++;
    pending_.emplace(id, std::move(task));
  }
  boost::asio::post(io_, [this, id] {
    if (std::function<void()> task = Take(id)) task();
  });
}

std::function<void()> AsioScheduler::Take(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return nullptr;
  std::function<void()> task = std::move(it->second);
  pending_.erase(it);
  return task;
}

void AsioScheduler::DropPending() {
  absl::flat_hash_map<uint64_t, std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped_ = true;
    dropped.swap(pending_);
  }
  // Destroyed here, outside the lock: a task's captures may schedule.
}

}  // namespace canopy::node
