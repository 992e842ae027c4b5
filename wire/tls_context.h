#ifndef CANOPY_WIRE_TLS_CONTEXT_H_
#define CANOPY_WIRE_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/asio/ssl/context.hpp"

namespace canopy::wire {

// Mutual TLS on data links (docs/wire-format.md, "Encryption"): node ↔ node
// links (Asio) and client links (FrameSocket). Both ends present a
// certificate that the deployment's CA signed and verify the other's; the
// certificate's subject says who holds it (OU = role, CN = name, as
// scripts/make-certs makes them). Only TLS 1.3 and 1.2 with ECDHE and
// AES-GCM are offered (TLS_AES_128_GCM_SHA256 preferred); no session
// tickets, no renegotiation, no compression.

// The PEM text of one end's TLS identity.
struct TlsCredentials {
  std::string ca_pem;    // CA certificate(s) the peer's certificate must chain to
  std::string cert_pem;  // this end's certificate (a chain: leaf first)
  std::string key_pem;   // its private key, unencrypted
};

// One end's TLS configuration, shared by all its links in either role
// (connecting or accepting). Every handshake requires the peer's
// certificate and verifies it against the CA.
//
// Thread-safe once created: links on any thread make sessions from it.
class TlsContext {
 public:
  // Loads the credentials. InvalidArgument saying what OpenSSL refused (a
  // CA, certificate or key that is not PEM, a key not of the certificate).
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(const TlsCredentials& credentials);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // For asio::ssl::stream.
  boost::asio::ssl::context& asio() { return context_; }
  // For SSL_new().
  SSL_CTX* native() { return context_.native_handle(); }

 private:
  TlsContext() : context_(boost::asio::ssl::context::tls) {}

  boost::asio::ssl::context context_;
};

// What node-to-node links need of TLS: the context (null = plaintext
// links), and the OU a peer node's certificate must have. The CN must be
// the node id: the one a link's HELLO announces (accepting side), or the
// one the link was opened to (connecting side).
struct LinkTls {
  std::shared_ptr<TlsContext> context;
  std::string peer_unit;

  bool enabled() const { return context != nullptr; }
};

// The peer's certificate as a finished handshake verified it.
struct PeerCertificate {
  std::string common_name;  // CN ("" when the subject has none or several)
  std::string unit;         // OU ("" when the subject has none or several)
  std::string der;          // the leaf certificate, DER-encoded
};

// The verified certificate of the peer of `ssl`. FailedPrecondition before
// a handshake completed or when the peer presented none.
absl::StatusOr<PeerCertificate> PeerCertificateOf(const SSL* ssl);

// OK if `peer` has OU `unit` and CN `node_id`; else PermissionDenied saying
// what the certificate names and what was needed.
absl::Status CheckPeerNode(const PeerCertificate& peer, absl::string_view unit,
                           absl::string_view node_id);

// "TLSv1.3 TLS_AES_128_GCM_SHA256" for a session after its handshake.
std::string SessionDescription(const SSL* ssl);

// The DER encoding of the first certificate in `pem`. InvalidArgument if
// it holds none.
absl::StatusOr<std::string> CertificateDer(absl::string_view pem);

// The text of OpenSSL's queued errors of this thread (and clears them),
// or `fallback` when there are none.
std::string TakeOpenSslErrors(absl::string_view fallback);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_TLS_CONTEXT_H_
