#include "node/held_resumes.h"

#include <algorithm>
#include <utility>

namespace canopy::node {

bool HeldResumes::Hold(Held held) {
  absl::MutexLock lock(&mu_);
  auto same = std::find_if(held_.begin(), held_.end(), [&](const Held& h) {
    return h.peer == held.peer && h.request.group_handle == held.request.group_handle &&
           h.request.source_id == held.request.source_id;
  });
  if (same != held_.end()) {
    *same = std::move(held);
    return true;
  }
  if (held_.size() >= max_held_) return false;
  held_.push_back(std::move(held));
  return true;
}

std::vector<HeldResumes::Held> HeldResumes::TakeAll() {
  absl::MutexLock lock(&mu_);
  return std::exchange(held_, {});
}

size_t HeldResumes::size() const {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

}  // namespace canopy::node
