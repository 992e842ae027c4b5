#ifndef CANOPY_WIRE_CLIENT_LINK_H_
#define CANOPY_WIRE_CLIENT_LINK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "wire/endpoint.h"
#include "wire/frame_socket.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// Client links (docs/wire-format.md, "Client links"): for one Publish or
// Subscribe call the node listens on a fresh port and offers (port, token)
// to the client over gRPC; the client connects and sends a HELLO whose
// payload is the token. Messages then travel as frames on that connection
// instead of inside the gRPC stream.
//
// A node that serves its clients with TLS takes client links only with
// TLS: the client runs a mutual TLS handshake first (presenting the same
// certificate as on its gRPC call, which the node checks) and sends the
// HELLO inside it.

// TLS on a client link.
struct ClientLinkTls {
  // This end's context; null = a plaintext link.
  std::shared_ptr<TlsContext> context;
  // Client: the OU the node's certificate must have; it must also name
  // the host the client dialed.
  std::string peer_unit;
  // Node: the certificate (DER) the client must present, the one its gRPC
  // call came with; empty = any certificate the CA signed.
  std::string peer_der;
};

// A fresh token: 128 random bits as 32 lowercase hex digits.
std::string NewClientLinkToken();

// Client side: connects to `node`, runs the TLS handshake when
// `tls.context` is set, and presents `token`. Unavailable if the
// connection fails within `timeout`; Unauthenticated if the handshake
// fails; PermissionDenied if the node's certificate lacks tls.peer_unit.
absl::StatusOr<FrameSocket> ConnectClientLink(const Endpoint& node, absl::string_view token,
                                              absl::Duration timeout,
                                              const ClientLinkTls& tls = {});

// Why the node refused one connection to an offered link.
using ClientLinkRefused = std::function<void(const absl::Status& why)>;

// Node side: accepts connections on `listener` until one presents `token`
// (others are closed, with a log line and a call of `on_refused`); with
// `tls.context` only over TLS with the client certificate tls.peer_der.
// DeadlineExceeded at `deadline`; Cancelled if `stop` says so first;
// FailedPrecondition when a TLS listener gets the right token in
// plaintext: the token is no secret any more and the offer is void.
absl::StatusOr<FrameSocket> AcceptClientLink(FrameSocketListener& listener, absl::string_view token,
                                             absl::Time deadline, const StopRequested& stop,
                                             const ClientLinkTls& tls = {},
                                             const ClientLinkRefused& on_refused = nullptr);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CLIENT_LINK_H_
