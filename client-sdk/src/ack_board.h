#ifndef CANOPY_CLIENT_SDK_SRC_ACK_BOARD_H_
#define CANOPY_CLIENT_SDK_SRC_ACK_BOARD_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/publisher.h"
#include "canopy/v1/node.pb.h"

namespace canopy {

// The acknowledgement totals a publisher's node sent it (the DeliveryAcks
// events of its PublishOverLink stream), per object, and the waits on them
// (Publisher::AwaitAcknowledged). Remembers the last kMaxObjects objects.
//
// Thread-safe.
class AckBoard {
 public:
  static constexpr size_t kMaxObjects = 256;

  // New totals of an object, or the roster (object id 0).
  void Update(const v1::DeliveryAcks& acks);
  // The stream ended with `why` (OK: cleanly); waits end with it.
  void End(absl::Status why);

  // Publisher::AwaitAcknowledged.
  absl::StatusOr<DeliveryAcks> Await(uint64_t object_id, uint32_t receivers, absl::Time deadline);

 private:
  // What is known of `object_id`: its totals, else the roster with none
  // acknowledged. REQUIRES: mu_ held.
  DeliveryAcks Known(uint64_t object_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint64_t, DeliveryAcks> objects_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> order_ ABSL_GUARDED_BY(mu_);
  std::optional<DeliveryAcks> roster_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);
};

// "1 of 2 receivers hold object 0x… (2 subscribed); missing: worker-2@n3":
// why `acks` falls short of `wanted`.
std::string DescribeAcks(const DeliveryAcks& acks, uint32_t wanted);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_ACK_BOARD_H_
