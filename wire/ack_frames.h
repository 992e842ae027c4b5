#ifndef CANOPY_WIRE_ACK_FRAMES_H_
#define CANOPY_WIRE_ACK_FRAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "wire/frame.h"

namespace canopy::wire {

// Delivery acknowledgements (docs/wire-format.md "Acknowledgements"):
// a subscriber tells its node that it holds an object verified (ACK, on its
// client link), and every node tells its parent in the flow's tree how its
// subtree stands (ACK_SUMMARY, on the link the parent opened), so the
// publisher's node learns the totals from one message per child.

// Names a summary carries at most; `missing` still counts the others.
inline constexpr size_t kMaxAckNames = 16;

// Why a summary names a receiver or a node as missing.
enum class AckMissingKind : uint8_t {
  kPending = 0,  // `member` at `node` has not acknowledged the object
  kLeft = 1,     // `member` at `node` left the group without acknowledging it
  kSilent = 2,   // child `node` has said nothing of the flow (its subtree unknown)
  // Child `node` left the flow's tree (it died, or moved elsewhere), and
  // with it `member` where its last roster named one.
  kGone = 3,
};

// One receiver or node that does not hold the object: `member` (the name
// its subscription gave) at node `node`, or, for kSilent and kGone, the node
// alone (member empty).
struct AckMissing {
  std::string node;
  std::string member;
  AckMissingKind kind = AckMissingKind::kPending;

  bool operator==(const AckMissing&) const = default;
};

// How the receivers below one node stand for one object of a flow. Object
// id 0 is the roster: who there would acknowledge (receivers), nothing
// acknowledged, every receiver named as missing.
struct AckSummary {
  uint64_t object_id = 0;
  // Subscribers of the flow below (and at) the node, those that held the
  // object and left included.
  uint32_t receivers = 0;
  uint32_t acked = 0;      // of them, those that hold the object verified
  // Receivers not holding it, those that left without it, silent
  // subtrees (one each), the receivers of subtrees that left the tree; at
  // least names.size().
  uint32_t missing = 0;
  std::vector<AckMissing> names;  // at most kMaxAckNames

  bool operator==(const AckSummary&) const = default;
};

// ACK (subscriber → node): the subscriber holds object `object_id` of flow
// (group_handle, source_id), verified. REQUIRES: object_id != 0.
FramePtr MakeAck(uint32_t group_handle, uint32_t source_id, uint64_t object_id);
// The object id of an ACK; InvalidArgument for another frame type, a
// payload that is not 8 bytes, or object id 0.
absl::StatusOr<uint64_t> ParseAck(const Frame& frame);

// ACK_SUMMARY (child node → parent node) of flow (group_handle, source_id).
// REQUIRES: summary.names.size() <= kMaxAckNames, each node 1..64 bytes,
// each member 1..64 bytes for kPending and kLeft, empty for kSilent.
FramePtr MakeAckSummary(uint32_t group_handle, uint32_t source_id, const AckSummary& summary);
// InvalidArgument for another frame type or a malformed payload: truncated
// or trailing bytes, more than kMaxAckNames names, an empty node or a name
// above 64 bytes, an unknown kind or a member that does not fit its kind,
// acked above receivers, missing below the names given.
absl::StatusOr<AckSummary> ParseAckSummary(const Frame& frame);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_ACK_FRAMES_H_
