#ifndef CANOPY_CONTROLLER_ID_SOURCE_H_
#define CANOPY_CONTROLLER_ID_SOURCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace canopy::controller {

// Gives out the numeric ids that data frames carry instead of names: a
// group's handle and a source's id within its group. The policy store is
// the durable implementation (PolicyStore); the planner only asks.
//
// Contract: the same name gets the same id for the life of the store; a
// new name gets an id no other name of its scope holds. Errors (the store
// is unavailable, the id space is exhausted) come back as a status and the
// caller leaves the group or source unplanned.
//
// Thread safety: implementations say whether they may be called
// concurrently; the planner calls them under the controller core's lock.
class IdSource {
 public:
  virtual ~IdSource() = default;
  // The handle of `group`, allotting one if the group has none yet.
  virtual absl::StatusOr<uint32_t> GroupHandle(const std::string& group) = 0;
  // The id of `source` within `group`, allotting one if it has none yet.
  virtual absl::StatusOr<uint32_t> SourceId(const std::string& group,
                                            const std::string& source) = 0;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_ID_SOURCE_H_
