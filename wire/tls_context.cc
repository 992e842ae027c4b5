#include "wire/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/pem.h"

namespace canopy::wire {
namespace {

// TLS 1.3 suites, AES-128-GCM first (the cheapest with AES-NI), and the
// TLS 1.2 equivalents for a peer that cannot do 1.3.
constexpr char kTls13Suites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
// Sessions are never resumed, but a server that verifies client
// certificates must still name its session context.
constexpr unsigned char kSessionContext[] = "canopy-data";

// The single value of attribute `nid` in `name`; "" for none or several.
std::string SingleEntry(const X509_NAME* name, int nid) {
  const int first = X509_NAME_get_index_by_NID(name, nid, -1);
  if (first < 0 || X509_NAME_get_index_by_NID(name, nid, first) >= 0) return "";
  unsigned char* utf8 = nullptr;
  const int n =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, first)));
  if (n < 0) return "";
  std::string text(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return text;
}

std::string Der(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) return "";
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return bytes;
}

}  // namespace

std::string TakeOpenSslErrors(absl::string_view fallback) {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof(buffer));
    const char* reason = ERR_reason_error_string(e);
    absl::StrAppend(&text, text.empty() ? "" : "; ", reason != nullptr ? reason : buffer);
  }
  return text.empty() ? std::string(fallback) : text;
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsCredentials& credentials) {
  std::shared_ptr<TlsContext> tls(new TlsContext());
  SSL_CTX* ctx = tls->native();
  ERR_clear_error();
  auto refuse = [](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS for data links: ", what, ": ", TakeOpenSslErrors("refused")));
  };
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return refuse("protocol version");
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) return refuse("TLS 1.3 suites");
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return refuse("TLS 1.2 ciphers");
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  std::vector<X509Ptr> cas = ReadPemCertificates(credentials.ca_pem);
  if (cas.empty()) return absl::InvalidArgumentError("TLS for data links: no CA certificate");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const X509Ptr& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) return refuse("CA certificate");
  }
  boost::system::error_code ec;
  tls->context_.use_certificate_chain(
      boost::asio::buffer(credentials.cert_pem.data(), credentials.cert_pem.size()), ec);
  if (ec) return refuse(absl::StrCat("certificate (", ec.message(), ")"));
  tls->context_.use_private_key(
      boost::asio::buffer(credentials.key_pem.data(), credentials.key_pem.size()),
      boost::asio::ssl::context::pem, ec);
  if (ec) return refuse(absl::StrCat("private key (", ec.message(), ")"));
  if (SSL_CTX_check_private_key(ctx) != 1) return refuse("the key is not the certificate's");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return tls;
}

absl::StatusOr<PeerCertificate> PeerCertificateOf(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return absl::FailedPreconditionError("the peer presented no certificate");
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return absl::PermissionDeniedError(
        absl::StrCat("the peer's certificate did not verify: ",
                     X509_verify_cert_error_string(SSL_get_verify_result(ssl))));
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  return PeerCertificate{SingleEntry(subject, NID_commonName),
                         SingleEntry(subject, NID_organizationalUnitName), Der(cert)};
}

absl::Status CheckPeerNode(const PeerCertificate& peer, absl::string_view unit,
                           absl::string_view node_id) {
  if (peer.unit == unit && peer.common_name == node_id) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "the certificate has OU=", peer.unit.empty() ? "(none)" : peer.unit, ", CN=",
      peer.common_name.empty() ? "(none)" : peer.common_name, ", not OU=", unit, ", CN=", node_id));
}

std::string SessionDescription(const SSL* ssl) {
  return absl::StrCat(SSL_get_version(ssl), " ", SSL_get_cipher_name(ssl));
}

absl::StatusOr<std::string> CertificateDer(absl::string_view pem) {
  std::vector<X509Ptr> certs = ReadPemCertificates(pem);
  if (certs.empty()) return absl::InvalidArgumentError("no PEM certificate");
  return Der(certs.front().get());
}

}  // namespace canopy::wire
