#include "node/scheduler.h"

#include <chrono>
#include <memory>
#include <optional>

#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"

namespace canopy::node {

std::optional<uint64_t> AsioScheduler::Hold(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (dropped_) return std::nullopt;
  const uint64_t id = next_id_++;
  pending_.emplace(id, std::move(task));
  return id;
}

void AsioScheduler::After(absl::Duration delay, std::function<void()> task) {
  const std::optional<uint64_t> id = Hold(std::move(task));
  if (!id) return;
  auto timer = std::make_shared<boost::asio::steady_timer>(
      io_, std::chrono::microseconds(absl::ToInt64Microseconds(delay)));
  timer->async_wait([this, timer, id = *id](const boost::system::error_code& ec) {
    std::function<void()> task = Take(id);
    if (!ec && task) task();
  });
}

void AsioScheduler::Post(std::function<void()> task) {
  const std::optional<uint64_t> id = Hold(std::move(task));
  if (!id) return;
  boost::asio::post(io_, [this, id = *id] {
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
