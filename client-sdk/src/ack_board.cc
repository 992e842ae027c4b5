#include "src/ack_board.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace canopy {
namespace {

DeliveryAcks FromProto(const v1::DeliveryAcks& p) {
  DeliveryAcks a;
  a.object_id = p.object_id();
  a.receivers = p.receivers();
  a.acked = p.acked();
  a.missing_count = p.missing_count();
  a.missing.assign(p.missing().begin(), p.missing().end());
  return a;
}

}  // namespace

void AckBoard::Update(const v1::DeliveryAcks& acks) {
  absl::MutexLock lock(&mu_);
  if (acks.object_id() == 0) {
    roster_ = FromProto(acks);
    return;
  }
  auto [it, inserted] = objects_.insert_or_assign(acks.object_id(), FromProto(acks));
  if (inserted) {
    order_.push_back(acks.object_id());
    if (order_.size() > kMaxObjects) {
      objects_.erase(order_.front());
      order_.pop_front();
    }
  }
}

void AckBoard::End(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (!ended_) ended_ = std::move(why);
}

DeliveryAcks AckBoard::Known(uint64_t object_id) const {
  auto it = objects_.find(object_id);
  if (it != objects_.end()) return it->second;
  DeliveryAcks a = roster_.value_or(DeliveryAcks{});
  a.object_id = object_id;
  a.acked = 0;
  a.missing_count = std::max<uint32_t>(a.missing_count, a.receivers);
  return a;
}

absl::StatusOr<DeliveryAcks> AckBoard::Await(uint64_t object_id, uint32_t receivers,
                                             absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ended_.has_value()) return true;
    auto it = objects_.find(object_id);
    return it != objects_.end() && it->second.acked >= receivers;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  DeliveryAcks known = Known(object_id);
  if (known.acked >= receivers) return known;
  if (ended_.has_value()) {
    if (!ended_->ok()) return *ended_;
    return absl::FailedPreconditionError(absl::StrCat(
        "the publish stream ended before enough receivers acknowledged: ",
        DescribeAcks(known, receivers)));
  }
  return absl::DeadlineExceededError(DescribeAcks(known, receivers));
}

std::string DescribeAcks(const DeliveryAcks& acks, uint32_t wanted) {
  std::string text =
      absl::StrCat(acks.acked, " of ", wanted, " receivers hold object ",
                   absl::Hex(acks.object_id, absl::kZeroPad16), " (", acks.receivers,
                   acks.receivers == 1 ? " receiver" : " receivers", " in the tree)");
  if (acks.missing_count > 0) {
    absl::StrAppend(&text, "; missing: ", absl::StrJoin(acks.missing, ", "));
    if (acks.missing_count > acks.missing.size()) {
      absl::StrAppend(&text, " and ", acks.missing_count - acks.missing.size(), " more");
    }
  } else if (acks.receivers < wanted) {
    absl::StrAppend(&text, "; no other receiver subscribes to this source");
  }
  return text;
}

}  // namespace canopy
