#ifndef CANOPY_CLIENT_SDK_PYTHON_SRC_INTERRUPT_H_
#define CANOPY_CLIENT_SDK_PYTHON_SRC_INTERRUPT_H_

#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/publisher.h"
#include "canopy/subscriber.h"

namespace canopy::python {

// Lets a blocking SDK call, running without the GIL, notice Ctrl-C (and
// any signal whose Python handler raises) and exceptions raised by Python
// callbacks it calls, so the call ends early and the exception reaches the
// caller.
//
// Thread-safe.
class Interrupt {
 public:
  // True once the blocking call should end: a Python exception is pending.
  // From the thread of the blocking call it also runs Python's signal
  // handlers (taking the GIL) at most every kPoll. Other threads (the
  // publisher's announcer) are never interrupted.
  bool Check();
  // A Python callback raised: keep the exception. REQUIRES: the GIL.
  void Fail(pybind11::error_already_set& e);

  // How often signals are looked at while blocked.
  static constexpr absl::Duration kPoll = absl::Milliseconds(100);

 private:
  friend class BlockingCall;
  absl::Mutex mu_;
  std::optional<std::thread::id> owner_ ABSL_GUARDED_BY(mu_);
  absl::Time last_poll_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::atomic<bool> failed_{false};
  // Set and taken with the GIL held.
  std::optional<pybind11::error_already_set> pending_;
};

// Scope of one blocking call: releases the GIL, arms `interrupt` for this
// thread; Finish() re-takes the GIL and raises what interrupted the call.
class BlockingCall {
 public:
  explicit BlockingCall(Interrupt& interrupt);
  ~BlockingCall();
  // Re-takes the GIL; raises the pending exception, if any. Call once,
  // after the SDK call returned.
  void Finish();

 private:
  Interrupt& interrupt_;
  std::optional<pybind11::gil_scoped_release> release_;
};

// A Subscriber whose waits end within Interrupt::kPoll of an interrupt
// (Next() then returns Cancelled).
class InterruptibleSubscriber final : public Subscriber {
 public:
  InterruptibleSubscriber(std::unique_ptr<Subscriber> inner, std::shared_ptr<Interrupt> interrupt)
      : inner_(std::move(inner)), interrupt_(std::move(interrupt)) {}

  absl::Status WaitJoined(absl::Duration timeout) override;
  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) override;
  absl::Status RequestResend(const std::string& source, uint64_t first, uint64_t last) override {
    return inner_->RequestResend(source, first, last);
  }
  absl::Status Acknowledge(const std::string& source, uint64_t object_id) override {
    return inner_->Acknowledge(source, object_id);
  }
  void Cancel() override { inner_->Cancel(); }

 private:
  std::unique_ptr<Subscriber> inner_;
  std::shared_ptr<Interrupt> interrupt_;
};

// A Publisher whose sends return Cancelled once interrupted (each send
// blocks at most while one message drains), and whose waits for
// acknowledgements end within Interrupt::kPoll of an interrupt.
class InterruptiblePublisher final : public Publisher {
 public:
  InterruptiblePublisher(std::unique_ptr<Publisher> inner, std::shared_ptr<Interrupt> interrupt)
      : inner_(std::move(inner)), interrupt_(std::move(interrupt)) {}

  absl::Status Send(absl::string_view payload) override;
  absl::Status SendGathered(absl::Span<const absl::string_view> parts) override;
  absl::StatusOr<DeliveryAcks> AwaitAcknowledged(uint64_t object_id, uint32_t receivers,
                                                 absl::Time deadline) override;
  absl::Status Health() override { return inner_->Health(); }
  absl::StatusOr<PublishResult> Finish() override { return inner_->Finish(); }

 private:
  std::unique_ptr<Publisher> inner_;
  std::shared_ptr<Interrupt> interrupt_;
};

}  // namespace canopy::python

#endif  // CANOPY_CLIENT_SDK_PYTHON_SRC_INTERRUPT_H_
