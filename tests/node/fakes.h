#ifndef CANOPY_TESTS_NODE_FAKES_H_
#define CANOPY_TESTS_NODE_FAKES_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/scheduler.h"
#include "wire/queued_link.h"

namespace canopy::node::testing {

// A Scheduler on virtual time: tasks run only when the test advances it.
class ManualScheduler final : public Scheduler {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void After(absl::Duration delay, std::function<void()> task) override {
    absl::MutexLock lock(&mu_);
    tasks_.emplace(std::make_pair(now_ + delay, next_++), std::move(task));
  }
  void Post(std::function<void()> task) override { After(absl::ZeroDuration(), std::move(task)); }
  // Moves time forward by `d`, running every task that falls due, in order.
  void Advance(absl::Duration d) {
    const absl::Time until = Now() + d;
    for (;;) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        if (tasks_.empty() || tasks_.begin()->first.first > until) {
          now_ = until;
          return;
        }
        now_ = tasks_.begin()->first.first;
        task = std::move(tasks_.begin()->second);
        tasks_.erase(tasks_.begin());
      }
      task();
    }
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'700'000'000);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
};

// A link that records what it is sent; its queue is as full as the test
// says, and it drains when the test says so.
class FakeLink final : public wire::QueuedLink {
 public:
  explicit FakeLink(std::string peer, wire::Endpoint address = {"127.0.0.1", 1})
      : peer_(std::move(peer)), address_(std::move(address)) {}

  bool Send(wire::FramePtr frame) override {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    sent_.push_back(std::move(frame));
    return true;
  }
  bool SendDroppingOldest(wire::FramePtr frame) override {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    if (full_) ++dropped_;
    sent_.push_back(std::move(frame));
    return true;
  }
  uint64_t dropped_frames() const override {
    absl::MutexLock lock(&mu_);
    return dropped_;
  }
  bool OverHighWatermark() const override {
    absl::MutexLock lock(&mu_);
    return full_;
  }
  size_t QueuedBytes() const override {
    absl::MutexLock lock(&mu_);
    return full_ ? 1u << 30 : 0;
  }
  uint64_t WrittenBytes() const override {
    absl::MutexLock lock(&mu_);
    return written_;
  }
  void NotifyWhenDrained(std::function<void()> ready) override {
    {
      absl::MutexLock lock(&mu_);
      if (full_ && !closed_) {
        waiters_.push_back(std::move(ready));
        return;
      }
    }
    ready();
  }
  void Close() override {
    std::vector<std::function<void()>> waiters;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) w();
  }
  bool closed() const override {
    absl::MutexLock lock(&mu_);
    return closed_;
  }
  const std::string& peer_node() const override { return peer_; }
  std::string remote_address() const override { return address_.ToString(); }
  const wire::Endpoint& address() const override { return address_; }

  // The queue is over / back under its watermark (draining runs waiters).
  void SetFull(bool full) {
    std::vector<std::function<void()>> waiters;
    {
      absl::MutexLock lock(&mu_);
      full_ = full;
      if (!full) waiters.swap(waiters_);
    }
    for (auto& w : waiters) w();
  }
  // The link wrote `bytes` more (a full link that still drains).
  void Write(uint64_t bytes) {
    absl::MutexLock lock(&mu_);
    written_ += bytes;
  }
  std::vector<wire::FramePtr> sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }

 private:
  const std::string peer_;
  const wire::Endpoint address_;
  mutable absl::Mutex mu_;
  std::vector<wire::FramePtr> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace canopy::node::testing

#endif  // CANOPY_TESTS_NODE_FAKES_H_
