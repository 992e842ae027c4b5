#ifndef CANOPY_WIRE_CLIENT_LINK_SERVER_H_
#define CANOPY_WIRE_CLIENT_LINK_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/generic/seq_packet_protocol.hpp"
#include "boost/asio/steady_timer.hpp"
#include "wire/connection.h"
#include "wire/endpoint.h"
#include "wire/io_thread.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// A fresh client-link token: 128 random bits as 32 lowercase hex digits.
std::string NewClientLinkToken();

// The node's one port for client links (docs/wire-format.md, "Client
// links"): a client that was offered a link over gRPC connects here and
// presents the offer's token in a HELLO. With TLS the client first runs a
// mutual TLS handshake presenting the certificate of its gRPC call, which
// the offer names; a plaintext connection that presents a valid token on a
// TLS node voids the offer (the token is no secret any more). Connections
// with a wrong or no token (none within kHelloTimeout), a failed handshake
// or another certificate are closed and counted.
//
// Local links (docs/wire-format.md, "Local links"): the server also
// listens on an abstract Unix socket (local_name()); a client on the
// node's host that connects there and presents an offer's token in a
// HELLO gets the link as two shared-memory rings instead of TCP. The
// kernel vouches for the socket and the token travelled on the call's own
// (TLS) channel, so no certificate check applies there.
//
// Thread-safe; the accept loop, the handshakes and whatever is given the
// links' executor run on a thread of the server's own, which lives as long
// as the server: destroying it closes the port and ends pending offers.
class ClientLinkServer {
 public:
  // How long after connecting a client's HELLO must have arrived.
  static constexpr absl::Duration kHelloTimeout = absl::Seconds(2);
  static constexpr std::chrono::seconds kTlsHandshakeTimeout{5};

  // Gets the client's connection (its HELLO consumed), or why the offer
  // ended: DeadlineExceeded when nobody came in time, FailedPrecondition
  // when the token came in plaintext to a TLS node, Cancelled by Withdraw.
  using LinkHandler = std::function<void(absl::StatusOr<std::shared_ptr<Connection>>)>;

  // Binds `address` (port 0 = any free port; no SO_REUSEPORT) and starts
  // accepting. `tls` null = plaintext links. `local_ring_bytes` is the
  // capacity of each ring of a local link (a power of two, see ShmRing);
  // 0 = no local links. Unavailable naming the address if it cannot be
  // bound; a local socket that cannot be opened only logs why.
  static absl::StatusOr<std::unique_ptr<ClientLinkServer>> Open(const Endpoint& address,
                                                                std::shared_ptr<TlsContext> tls,
                                                                size_t local_ring_bytes = 0);
  ClientLinkServer(const ClientLinkServer&) = delete;
  ClientLinkServer& operator=(const ClientLinkServer&) = delete;
  ~ClientLinkServer();

  Endpoint bound() const { return bound_; }
  // The abstract Unix-socket name of local links; empty = none.
  const std::string& local_name() const { return local_name_; }
  bool tls() const { return tls_ != nullptr; }
  // The io_context links are served on (by the server's thread).
  boost::asio::io_context& io() { return io_thread_.io(); }

  // Offers a link: the first connection that presents `token` before
  // `deadline` goes to `on_link` — with TLS only if its certificate is
  // `peer_der` (DER; empty = any of the CA). `on_link` runs once.
  void Offer(const std::string& token, std::string peer_der, absl::Time deadline,
             LinkHandler on_link);
  // Ends an offer nobody took (its handler gets Cancelled).
  void Withdraw(const std::string& token);

  // Stops accepting; pending offers end with Cancelled. Idempotent.
  void Close();
  // Closes, then stops the server's thread: no handler of a link runs after
  // it returns (links end without their handlers). Idempotent.
  void Stop();

  // Connections closed for a wrong token, no HELLO, a failed handshake or
  // another certificate.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  using LocalSocket = boost::asio::generic::seq_packet_protocol::socket;

  explicit ClientLinkServer(std::shared_ptr<TlsContext> tls);
  absl::Status Bind(const Endpoint& address);
  absl::Status BindLocal();
  void AcceptLocal();
  // Reads a local client's HELLO, hands the rings over and the link to
  // its offer.
  void AdmitLocal(std::shared_ptr<LocalSocket> socket);
  void RefuseLocal(LocalSocket& socket, const std::string& why);
  // The offer `token` names, taken (its handler), or null and *why. With
  // `peer` (a TLS link) the offer's certificate must match.
  LinkHandler TakeOffer(absl::string_view token, const PeerCertificate* peer, std::string* why);
  void CountRefusal(const std::string& from, const std::string& why);
  void Accept();
  // After the handshake (if any): reads the HELLO and hands the link over.
  void ReadHello(const std::shared_ptr<Connection>& connection,
                 const std::shared_ptr<boost::asio::steady_timer>& deadline, bool plaintext_on_tls);
  void Refuse(const std::shared_ptr<Connection>& connection, const std::string& why);
  void ExpireOffers();

  // First, so that it is destroyed last: nothing below outlives its loop.
  IoThread io_thread_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Endpoint bound_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::seq_packet_protocol> local_acceptor_;
  std::string local_name_;
  size_t local_ring_bytes_ = 0;
  const std::shared_ptr<TlsContext> tls_;
  std::atomic<uint64_t> refused_{0};

  struct Pending {
    std::string peer_der;
    absl::Time deadline;
    LinkHandler on_link;
  };
  absl::Mutex mu_;
  std::map<std::string, Pending> offers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<boost::asio::steady_timer> expiry_;  // used on the io_context
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CLIENT_LINK_SERVER_H_
