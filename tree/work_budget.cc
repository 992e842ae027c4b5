#include "tree/work_budget.h"

namespace canopy::tree {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock* RealClock() {
  static const SystemClock* const clock = new SystemClock();
  return clock;
}

}  // namespace canopy::tree
