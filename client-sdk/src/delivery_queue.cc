#include "src/delivery_queue.h"

#include <algorithm>
#include <utility>

namespace canopy {

bool DeliveryQueue::Push(std::string source, uint64_t sequence, std::string payload) {
  absl::MutexLock lock(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || pending_.empty() ||
           (pending_.size() < kMaxMessages && pending_bytes_ < kMaxBytes);
  };
  mu_.Await(absl::Condition(&room));
  if (closed_) return false;
  uint64_t& last = last_sequence_[source];
  const bool resent = last != 0 && sequence <= last;
  if (resent) {
    // Only what was asked for again comes twice.
    auto asked = resends_.find(source);
    bool expected = false;
    if (asked != resends_.end()) {
      for (auto it = asked->second.begin(); it != asked->second.end(); ++it) {
        if (sequence < it->first || sequence > it->second) continue;
        expected = true;
        if (sequence == it->first) ++it->first;  // in order, the usual case
        if (it->first > it->second) asked->second.erase(it);
        break;
      }
    }
    if (!expected) {
      ++duplicates_dropped_;
      return true;
    }
  }
  const uint64_t missed = last != 0 && sequence > last + 1 ? sequence - last - 1 : 0;
  last = std::max(last, sequence);
  pending_bytes_ += payload.size();
  pending_.push_back(
      ReceivedMessage{group_, std::move(source), sequence, std::move(payload), missed, resent});
  return true;
}

void DeliveryQueue::ExpectResend(const std::string& source, uint64_t first, uint64_t last) {
  absl::MutexLock lock(&mu_);
  auto& ranges = resends_[source];
  if (ranges.size() >= kMaxResendRanges) ranges.erase(ranges.begin());
  ranges.emplace_back(first, last);
}

void DeliveryQueue::Status(const SourceStatus& status) {
  if (on_status_) on_status_(status);
}

uint64_t DeliveryQueue::duplicates_dropped() const {
  absl::MutexLock lock(&mu_);
  return duplicates_dropped_;
}

void DeliveryQueue::MarkJoined() {
  absl::MutexLock lock(&mu_);
  joined_ = true;
}

void DeliveryQueue::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  ended_ = true;
  end_status_ = status.ok() ? absl::UnavailableError("the node ended the stream") : status;
}

void DeliveryQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::Status DeliveryQueue::WaitJoined(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto decided = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return joined_ || ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&decided), timeout)) {
    return absl::DeadlineExceededError("the node did not confirm the join in time");
  }
  return joined_ ? absl::OkStatus() : end_status_;
}

absl::StatusOr<ReceivedMessage> DeliveryQueue::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !pending_.empty() || ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
    return absl::DeadlineExceededError("no message arrived in time");
  }
  if (pending_.empty()) return end_status_;
  ReceivedMessage m = std::move(pending_.front());
  pending_.pop_front();
  pending_bytes_ -= m.payload.size();
  return m;
}

}  // namespace canopy
