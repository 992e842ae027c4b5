#ifndef CANOPY_WIRE_CLIENT_LINK_H_
#define CANOPY_WIRE_CLIENT_LINK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "boost/asio/any_io_executor.hpp"
#include "wire/connection.h"
#include "wire/endpoint.h"
#include "wire/frame.h"
#include "wire/io_thread.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// Client links (docs/wire-format.md, "Client links"): for one Publish or
// Subscribe call the node offers (port, token) over gRPC — the port is the
// node's one client-link port — and the client connects and sends a HELLO
// whose payload is the token. Messages then travel as frames on that
// connection instead of inside the gRPC stream.
//
// A node that serves its clients with TLS takes client links only with
// TLS: the client runs a mutual TLS handshake first (presenting the same
// certificate as on its gRPC call, which the node checks) and sends the
// HELLO inside it.

// TLS on a client link, client side.
struct ClientLinkTls {
  // This end's context; null = a plaintext link.
  std::shared_ptr<TlsContext> context;
  // The OU the node's certificate must have; it must also name the host
  // the client dialed.
  std::string peer_unit;
};

// A blocking end of a client link, over the same Connection the node
// uses: the client's (Connect, with a thread of its own running it), or any
// established connection whose executor another thread runs. One thread
// may block reading while another writes.
//
// Thread-safe: one reader and one writer at a time; Shutdown from any
// thread.
class ClientLink {
 public:
  // Connects to `node`, runs the TLS handshake when `tls.context` is set,
  // and presents `token`. Unavailable if the connection fails within
  // `timeout`; Unauthenticated if the handshake fails; PermissionDenied if
  // the node's certificate lacks tls.peer_unit.
  static absl::StatusOr<std::unique_ptr<ClientLink>> Connect(const Endpoint& node,
                                                             absl::string_view token,
                                                             absl::Duration timeout,
                                                             const ClientLinkTls& tls = {});
  // Connects to the node's local links at the abstract Unix socket `name`
  // (LinkOffer.local_socket), presents `token` and maps the shared-memory
  // rings the node hands over (docs/wire-format.md, "Local links").
  // Unavailable if nothing listens there — the node runs on another host
  // or network namespace — or the node refused the token, or handed over
  // nothing within `timeout`; InvalidArgument for a bad name or a handover
  // that is not one.
  static absl::StatusOr<std::unique_ptr<ClientLink>> ConnectLocal(absl::string_view name,
                                                                  absl::string_view token,
                                                                  absl::Duration timeout);
  // Wraps an established connection; its executor's thread must keep
  // running while this object lives.
  explicit ClientLink(std::shared_ptr<Connection> connection);
  ClientLink(const ClientLink&) = delete;
  ClientLink& operator=(const ClientLink&) = delete;
  ~ClientLink();

  // Writes one frame made of `parts` (its header first) in one gathered
  // write; blocks until it is written. Unavailable if the link broke.
  absl::Status Write(absl::Span<const absl::string_view> parts);

  // Reads the next frame: its payload into `payload`, checked against
  // `max_payload`, the control-frame limit and its checksum; returns its
  // header. OutOfRange at the node's clean end, Unavailable for a broken
  // link, InvalidArgument / DataLoss for a malformed or corrupt frame.
  absl::StatusOr<FrameHeader> ReadInto(std::string& payload, uint32_t max_payload);
  // Reads the next frame whole (header and payload; the checksum is left
  // to Frame::Adopt). Errors as ReadInto.
  absl::StatusOr<FrameBuffer> ReadFrame(uint32_t max_payload);

  // Ends this side's writing: the node reads the end after what was
  // written (with TLS after a close_notify).
  void ShutdownWrite();
  // Ends both directions; blocked calls return with an error. Idempotent.
  void Shutdown();

  // "ip:port" of the node ("local pid N" for a local link); "plaintext",
  // "shared memory" or the TLS protocol and suite.
  std::string peer() const { return remote_; }
  std::string security() const { return security_; }
  // The node's certificate on a TLS link; empty on a plaintext one.
  const PeerCertificate& node_certificate() const { return connection_->peer(); }

 private:
  ClientLink();
  // Runs `op` on the link's thread and waits for what it reports.
  template <typename T, typename Op>
  T Run(Op&& op);

  // The thread of a link Connect opened (null for a wrapped connection).
  std::unique_ptr<IoThread> own_io_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<Connection> connection_;
  std::string remote_;
  std::string security_;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CLIENT_LINK_H_
