#ifndef CANOPY_WIRE_CLIENT_LINK_H_
#define CANOPY_WIRE_CLIENT_LINK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "wire/endpoint.h"
#include "wire/frame_socket.h"

namespace canopy::wire {

// Client links (docs/wire-format.md, "Client links"): for one Publish or
// Subscribe call the node listens on a fresh port and offers (port, token)
// to the client over gRPC; the client connects and sends a HELLO whose
// payload is the token. Messages then travel as frames on that connection
// instead of inside the gRPC stream.

// A fresh token: 128 random bits as 32 lowercase hex digits.
std::string NewClientLinkToken();

// Client side: connects to `node` and presents `token`. Unavailable if the
// connection fails within `timeout`.
absl::StatusOr<FrameSocket> ConnectClientLink(const Endpoint& node, absl::string_view token,
                                              absl::Duration timeout);

// Node side: accepts connections on `listener` until one presents `token`
// (others are closed, with a log line). DeadlineExceeded at `deadline`;
// Cancelled if `stop` says so first.
absl::StatusOr<FrameSocket> AcceptClientLink(FrameSocketListener& listener, absl::string_view token,
                                             absl::Time deadline, const StopRequested& stop);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CLIENT_LINK_H_
