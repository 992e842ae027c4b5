#ifndef CANOPY_WIRE_CONTROL_FRAMES_H_
#define CANOPY_WIRE_CONTROL_FRAMES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "wire/frame.h"

namespace canopy::wire {

// A child's request to its parent: resend flow (group_handle, source_id)
// from `after` + 1 up to `until` (0 = up to the newest).
struct ResumeRequest {
  uint32_t group_handle = 0;
  uint32_t source_id = 0;
  uint64_t after = 0;
  uint64_t until = 0;
};

// A parent's notice: sequences [first, next) of a flow exist nowhere any
// more; the flow continues at `next`.
struct GapNotice {
  uint32_t group_handle = 0;
  uint32_t source_id = 0;
  uint64_t first = 0;
  uint64_t next = 0;
};

// What a link's first frame says about the node that opened it.
struct Hello {
  // The node id, without a probe suffix.
  std::string node_id;
  // A probe link (kProbeHelloSuffix): PING only, never DATA.
  bool probe = false;
  // The node's link token (NodeHello.link_token); empty if it sent none.
  std::string token;
};

// HELLO payload: the node id (with kProbeHelloSuffix for a probe link),
// then, if `token` is not empty, one space and the token.
FramePtr MakeHello(absl::string_view node_id, absl::string_view token);
// InvalidArgument for another frame type, an empty id or an empty token
// after a space.
absl::StatusOr<Hello> ParseHello(const Frame& frame);

FramePtr MakeResume(const ResumeRequest& request);
FramePtr MakeGap(const GapNotice& gap);
// PING carries the sender's clock reading; PONG echoes it.
FramePtr MakePing(uint64_t sent_at_ns);
FramePtr MakePong(const Frame& ping);
// SOURCE names the source of the DATA frames that follow on a client link;
// its header carries the flow's group handle and source id, which a
// subscriber's RESUME names. REQUIRES: source is 1..kMaxControlPayload bytes.
FramePtr MakeSource(uint32_t group_handle, uint32_t source_id, absl::string_view source);

// Decode the control frames above. InvalidArgument if `frame` is of another
// type or its payload is malformed (e.g. a GAP whose `next` is not above
// `first`).
absl::StatusOr<ResumeRequest> ParseResume(const Frame& frame);
absl::StatusOr<GapNotice> ParseGap(const Frame& frame);
absl::StatusOr<uint64_t> ParsePong(const Frame& frame);
absl::StatusOr<std::string> ParseSource(const Frame& frame);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CONTROL_FRAMES_H_
