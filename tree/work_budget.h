#ifndef CANOPY_TREE_WORK_BUDGET_H_
#define CANOPY_TREE_WORK_BUDGET_H_

#include <cstdint>
#include <limits>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace canopy::tree {

// Source of the current time. Injected so that tests never depend on wall
// time. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Returns the current time.
  virtual absl::Time Now() const = 0;
};

// Returns a process-wide clock backed by absl::Now(). Never null.
const Clock* RealClock();

// Work units that correspond to roughly one millisecond of search on the
// reference 2-core machine. Used to turn a time limit into a deterministic
// work budget.
inline constexpr int64_t kWorkUnitsPerMilli = 40000;

// Counts abstract work units (edge relaxations, edge scans) against a
// deterministic budget, plus an optional wall-clock deadline used only as a
// safety cap. With no clock the outcome depends only on the input and the
// budget. Thread-compatible.
class WorkBudget {
 public:
  // `units` <= 0 means unlimited. `clock` may be null (no deadline).
  explicit WorkBudget(int64_t units, const Clock* clock = nullptr,
                      absl::Time deadline = absl::InfiniteFuture())
      : remaining_(units > 0 ? units : std::numeric_limits<int64_t>::max()),
        clock_(clock),
        deadline_(deadline) {}

  // Records `units` of work done.
  void Charge(int64_t units) { remaining_ -= units; }

  // True once the budget is spent or the deadline (if any) has passed.
  bool Exhausted() const {
    if (remaining_ <= 0) return true;
    return clock_ != nullptr && clock_->Now() >= deadline_;
  }

  // Units left (may be negative after overspending).
  int64_t Remaining() const { return remaining_; }

 private:
  int64_t remaining_;
  const Clock* clock_;
  absl::Time deadline_;
};

}  // namespace canopy::tree

#endif  // CANOPY_TREE_WORK_BUDGET_H_
