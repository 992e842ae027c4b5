#ifndef CANOPY_CLIENT_SDK_SRC_DELIVERY_QUEUE_H_
#define CANOPY_CLIENT_SDK_SRC_DELIVERY_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

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
// Each sequence of a source is handed out once: one at or below the
// highest seen is kept only if asked for again (ExpectResend).
//
// Thread-safe.
class DeliveryQueue {
 public:
  explicit DeliveryQueue(std::string group,
                         std::function<void(const SourceStatus&)> on_status = nullptr)
      : group_(std::move(group)), on_status_(std::move(on_status)) {}

  // Adds a message, counting the sequences of `source` it skipped, or drops
  // it as a duplicate. Blocks while the queue holds its limit of messages or
  // bytes; returns false (dropping the message) once Close() was called.
  bool Push(std::string source, uint64_t sequence, std::string payload);

  // Sequences first..last of `source` were asked for again: they are handed
  // out (marked resent) when they come.
  void ExpectResend(const std::string& source, uint64_t first, uint64_t last);

  // Passes a source's status to the subscriber's callback.
  void Status(const SourceStatus& status);

  // Messages dropped because they had been handed out already.
  uint64_t duplicates_dropped() const;

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
  // Resend ranges remembered per source; older ones are forgotten.
  static constexpr size_t kMaxResendRanges = 1024;

  const std::string group_;
  const std::function<void(const SourceStatus&)> on_status_;
  mutable absl::Mutex mu_;
  // Per source, sequence ranges asked for again and not yet received.
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> resends_ ABSL_GUARDED_BY(mu_);
  uint64_t duplicates_dropped_ ABSL_GUARDED_BY(mu_) = 0;
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
