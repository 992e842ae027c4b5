#ifndef CANOPY_NODE_SCHEDULER_H_
#define CANOPY_NODE_SCHEDULER_H_

#include <functional>

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

// Scheduler on an Asio io_context and the wall clock.
class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(boost::asio::io_context& io) : io_(io) {}
  absl::Time Now() const override { return absl::Now(); }
  void After(absl::Duration delay, std::function<void()> task) override;
  void Post(std::function<void()> task) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_SCHEDULER_H_
