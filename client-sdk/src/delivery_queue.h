#ifndef CANOPY_CLIENT_SDK_SRC_DELIVERY_QUEUE_H_
#define CANOPY_CLIENT_SDK_SRC_DELIVERY_QUEUE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/subscriber.h"

namespace canopy {

// The messages a Subscriber received and the application has not taken
// yet, plus the subscription's joined / ended state. The receiving thread
// pushes; when the queue is full it blocks, so the node sees back pressure.
//
// Thread-safe.
class DeliveryQueue {
 public:
  explicit DeliveryQueue(std::string group) : group_(std::move(group)) {}

  // Adds a message, counting the sequences of `source` it skipped. Blocks
  // while the queue holds its limit of messages or bytes; returns false
  // (dropping the message) once Close() was called.
  bool Push(std::string source, uint64_t sequence, std::string payload);

  // The node confirmed the join.
  void MarkJoined();
  // The subscription ended with `status` (non-OK); queued messages are
  // still handed out first. Only the first call counts.
  void End(absl::Status status);
  // Unblocks Push() for good (the Subscriber is going away).
  void Close();

  // Subscriber::WaitJoined() and Subscriber::Next().
  absl::Status WaitJoined(absl::Duration timeout);
  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout);

 private:
  static constexpr size_t kMaxMessages = 256;
  static constexpr size_t kMaxBytes = 16u << 20;

  const std::string group_;
  absl::Mutex mu_;
  std::deque<ReceivedMessage> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Highest sequence seen per source, to count what was lost in between.
  std::map<std::string, uint64_t> last_sequence_ ABSL_GUARDED_BY(mu_);
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_DELIVERY_QUEUE_H_
