#include "client-sdk/python/src/interrupt.h"

#include <algorithm>

namespace py = pybind11;

namespace canopy::python {
namespace {

absl::Status Interrupted() { return absl::CancelledError("interrupted"); }

}  // namespace

bool Interrupt::Check() {
  if (failed_) return true;
  {
    absl::MutexLock lock(&mu_);
    if (!owner_ || *owner_ != std::this_thread::get_id()) return false;
    const absl::Time now = absl::Now();
    if (now - last_poll_ < kPoll) return false;
    last_poll_ = now;
  }
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) {
    pending_.emplace();  // takes the error raised by the handler
    failed_ = true;
  }
  return failed_;
}

void Interrupt::Fail(py::error_already_set& e) {
  if (!pending_) pending_.emplace(std::move(e));
  failed_ = true;
}

BlockingCall::BlockingCall(Interrupt& interrupt) : interrupt_(interrupt) {
  {
    absl::MutexLock lock(&interrupt_.mu_);
    interrupt_.owner_ = std::this_thread::get_id();
    interrupt_.last_poll_ = absl::InfinitePast();
  }
  release_.emplace();
}

BlockingCall::~BlockingCall() {
  if (!release_) return;
  // Left without Finish() (an exception in between): forget the interrupt.
  release_.reset();
  absl::MutexLock lock(&interrupt_.mu_);
  interrupt_.owner_.reset();
  interrupt_.failed_ = false;
  interrupt_.pending_.reset();
}

void BlockingCall::Finish() {
  release_.reset();
  {
    absl::MutexLock lock(&interrupt_.mu_);
    interrupt_.owner_.reset();
  }
  if (!interrupt_.failed_) return;
  interrupt_.failed_ = false;
  if (!interrupt_.pending_) return;
  py::error_already_set e = std::move(*interrupt_.pending_);
  interrupt_.pending_.reset();
  throw e;
}

absl::Status InterruptibleSubscriber::WaitJoined(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (interrupt_->Check()) return Interrupted();
    const absl::Duration left = deadline - absl::Now();
    absl::Status s = inner_->WaitJoined(std::min(left, Interrupt::kPoll));
    if (!absl::IsDeadlineExceeded(s) || left <= Interrupt::kPoll) return s;
  }
}

absl::StatusOr<ReceivedMessage> InterruptibleSubscriber::Next(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (interrupt_->Check()) return Interrupted();
    const absl::Duration left = deadline - absl::Now();
    absl::StatusOr<ReceivedMessage> m = inner_->Next(std::min(left, Interrupt::kPoll));
    if (!absl::IsDeadlineExceeded(m.status()) || left <= Interrupt::kPoll) return m;
  }
}

absl::Status InterruptiblePublisher::Send(absl::string_view payload) {
  if (interrupt_->Check()) return Interrupted();
  return inner_->Send(payload);
}

absl::Status InterruptiblePublisher::SendGathered(absl::Span<const absl::string_view> parts) {
  if (interrupt_->Check()) return Interrupted();
  return inner_->SendGathered(parts);
}

absl::StatusOr<DeliveryAcks> InterruptiblePublisher::AwaitAcknowledged(uint64_t object_id,
                                                                      uint32_t receivers,
                                                                      absl::Time deadline) {
  while (true) {
    if (interrupt_->Check()) return Interrupted();
    const absl::Time slice = std::min(deadline, absl::Now() + Interrupt::kPoll);
    absl::StatusOr<DeliveryAcks> a = inner_->AwaitAcknowledged(object_id, receivers, slice);
    if (!absl::IsDeadlineExceeded(a.status()) || slice >= deadline) return a;
  }
}

}  // namespace canopy::python
