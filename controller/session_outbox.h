#ifndef CANOPY_CONTROLLER_SESSION_OUTBOX_H_
#define CANOPY_CONTROLLER_SESSION_OUTBOX_H_

#include <cstddef>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"
#include "controller/node_channel.h"

namespace canopy::controller {

// The instructions waiting to be written to one node's Attach stream: a
// bounded FIFO with at most one write in flight, written by the stream's
// reactor outside any lock of the controller core. Snapshot instructions
// (tables, policies, probe peers, membership acks) replace a queued
// instruction of the same kind that is not being written yet, so a slow
// node gets the newest state, not every step to it. A Send that would take
// the queue over its bound closes the channel instead (the node comes back
// with a fresh session and a full snapshot).
//
// Thread-safe.
class SessionOutbox final : public NodeChannel {
 public:
  struct Limits {
    size_t max_bytes = 64u << 20;
    size_t max_instructions = 65536;
  };
  // Begins writing one instruction to the stream; the pointer stays valid
  // until OnWriteDone. Must not block.
  using StartWrite = std::function<void(const v1::NodeInstruction*)>;
  // Ends the stream. Must not block; called without the outbox's lock.
  using Cancel = std::function<void()>;

  explicit SessionOutbox(Limits limits, std::function<absl::Time()> clock = absl::Now);
  SessionOutbox(const SessionOutbox&) = delete;
  SessionOutbox& operator=(const SessionOutbox&) = delete;

  // Binds the stream: what is queued starts going out. REQUIRES: once.
  void Bind(StartWrite start_write, Cancel cancel);
  // The write begun last finished; `ok` false means the stream broke.
  void OnWriteDone(bool ok);
  // The stream is over: nothing more is written or cancelled, later
  // Sends return false.
  void Unbind();

  bool Send(const v1::NodeInstruction& instruction) override;
  void Close() override;
  size_t Queued() const override;
  absl::Time OldestQueued() const override;
  bool overflowed() const override;

 private:
  struct Item {
    v1::NodeInstruction instruction;
    size_t bytes = 0;
    absl::Time queued_at;
  };
  // Starts the next write if none is in flight.
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Limits limits_;
  const std::function<absl::Time()> clock_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);  // front is in flight if writing_
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  StartWrite start_write_ ABSL_GUARDED_BY(mu_);
  Cancel cancel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_SESSION_OUTBOX_H_
