#ifndef CANOPY_NODE_SCHEDULER_H_
#define CANOPY_NODE_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"

namespace canopy::node {

// Time and deferred work for the data plane: the real one runs tasks on
// the relay's I/O thread; tests use a manual one with virtual time, so
// repair and back-pressure logic runs deterministically.
//
// Thread-safe.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual absl::Time Now() const = 0;
  // Runs `task` once `delay` has passed, on the scheduler's thread.
  virtual void After(absl::Duration delay, std::function<void()> task) = 0;
  // Runs `task` soon, on the scheduler's thread.
  virtual void Post(std::function<void()> task) = 0;
};

// Scheduler on an Asio io_context and the wall clock. It keeps the tasks
// itself (the io_context's handlers only name them), so DropPending() can
// release what they hold while the objects it refers to still exist.
class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(boost::asio::io_context& io) : io_(io) {}
  absl::Time Now() const override { return absl::Now(); }
  void After(absl::Duration delay, std::function<void()> task) override;
  void Post(std::function<void()> task) override;

  // Destroys every task that has not run, now; none of them runs, and
  // tasks given from now on are dropped at once. For shutdown: a task may
  // hold links and queues that must go before the things they use.
  void DropPending();

 private:
  // Keeps `task` until it runs or is dropped; its id, or nullopt once
  // DropPending() ran (the task is dropped).
  std::optional<uint64_t> Hold(std::function<void()> task);
  // Takes task `id` out of the pending set; empty if it was dropped.
  std::function<void()> Take(uint64_t id);

  boost::asio::io_context& io_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::function<void()>> pending_ ABSL_GUARDED_BY(mu_);
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_SCHEDULER_H_
