#include "controller/session_outbox.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

// Instructions that carry a whole state: a newer one makes a queued older
// one pointless.
bool IsSnapshot(v1::NodeInstruction::BodyCase body) {
  switch (body) {
    case v1::NodeInstruction::kTable:
    case v1::NodeInstruction::kPolicies:
    case v1::NodeInstruction::kProbePeers:
    case v1::NodeInstruction::kMembershipAck:
      return true;
    default:
      return false;
  }
}

}  // namespace

SessionOutbox::SessionOutbox(Limits limits, std::function<absl::Time()> clock)
    : limits_(limits), clock_(std::move(clock)) {}

void SessionOutbox::Bind(StartWrite start_write, Cancel cancel) {
  absl::MutexLock lock(&mu_);
  start_write_ = std::move(start_write);
  cancel_ = std::move(cancel);
  if (!closed_) WriteNextLocked();
}

void SessionOutbox::WriteNextLocked() {
  if (writing_ || queue_.empty() || !start_write_) return;
  writing_ = true;
  start_write_(&queue_.front().instruction);
}

void SessionOutbox::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!queue_.empty()) {
    bytes_ -= queue_.front().bytes;
    queue_.pop_front();
  }
  if (!ok) {
    closed_ = true;
    return;
  }
  if (!closed_) WriteNextLocked();
}

void SessionOutbox::Unbind() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  start_write_ = nullptr;
  cancel_ = nullptr;
  queue_.clear();
  bytes_ = 0;
  writing_ = false;
}

bool SessionOutbox::Send(const v1::NodeInstruction& instruction) {
  Cancel cancel;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    if (IsSnapshot(instruction.body_case())) {
      // Keep the one in flight (its buffer is being written).
      for (auto it = queue_.begin() + (writing_ ? 1 : 0); it != queue_.end();) {
        if (it->instruction.body_case() != instruction.body_case()) {
          ++it;
          continue;
        }
        bytes_ -= it->bytes;
        it = queue_.erase(it);
      }
    }
    const size_t bytes = instruction.ByteSizeLong();
    if (bytes_ + bytes > limits_.max_bytes || queue_.size() >= limits_.max_instructions) {
      closed_ = true;
      overflowed_ = true;
      cancel = cancel_;
    } else {
      queue_.push_back(Item{instruction, bytes, clock_()});
      bytes_ += bytes;
      WriteNextLocked();
      return true;
    }
  }
  spdlog::warn(
      "a node's instruction queue is over its bound ({} instructions); closing its session",
      limits_.max_instructions);
  if (cancel) cancel();
  return false;
}

void SessionOutbox::Close() {
  Cancel cancel;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    cancel = cancel_;
  }
  if (cancel) cancel();
}

size_t SessionOutbox::Queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

absl::Time SessionOutbox::OldestQueued() const {
  absl::MutexLock lock(&mu_);
  return queue_.empty() ? absl::InfiniteFuture() : queue_.front().queued_at;
}

bool SessionOutbox::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

}  // namespace canopy::controller
