#ifndef CANOPY_BASE_TLS_CREDENTIALS_H_
#define CANOPY_BASE_TLS_CREDENTIALS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace canopy {

// Mutual TLS for Canopy's gRPC connections (README "TLS"): every program
// holds a certificate signed by the deployment's CA (scripts/make-certs)
// and accepts only peers whose certificates that CA signed. A
// certificate's subject says who its holder is: OU = the role, CN = the
// name within the role.

// The roles (subject OU) and what the CN names for each.
inline constexpr absl::string_view kRoleController = "controller";  // CN: any
inline constexpr absl::string_view kRoleNode = "node";              // CN: the node id
inline constexpr absl::string_view kRolePublisher = "publisher";    // CN: the source id
inline constexpr absl::string_view kRoleOperator = "operator";      // CN: the operator's name

// The PEM files of one program's TLS identity.
struct TlsFiles {
  std::string ca;    // CA certificate(s) that peers' certificates must chain to
  std::string cert;  // this program's certificate (a chain: leaf first)
  std::string key;   // its private key (unencrypted)
};

// The contents of TlsFiles, read and checked.
struct TlsPem {
  std::string ca;
  std::string cert;
  std::string key;
};

// Reads the three files and checks them: each exists, is a readable regular
// file of at most 1 MiB and holds PEM of the right kind (certificates; a
// private key that is not encrypted), the key belongs to the certificate
// and the certificate has not expired. Every error names the file.
absl::StatusOr<TlsPem> LoadTlsFiles(const TlsFiles& files);

// Server credentials for mutual TLS: the server presents `pem.cert` and
// refuses clients without a certificate that `pem.ca` verifies
// (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY).
// Initialises gRPC, which may start threads: a program that blocks signals
// for its threads (program.h) calls this afterwards.
std::shared_ptr<grpc::ServerCredentials> TlsServerCredentials(const TlsPem& pem);

// Channel credentials for mutual TLS: the client presents `pem.cert` and
// accepts a server whose certificate `pem.ca` verifies and names the host
// it dials (subject alternative names). Initialises gRPC, as above.
std::shared_ptr<grpc::ChannelCredentials> TlsChannelCredentials(const TlsPem& pem);

// Loads `*tls` (errors as LoadTlsFiles) and returns TlsChannelCredentials;
// plaintext credentials when `tls` is empty.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const std::optional<TlsFiles>& tls);

// Who a certificate names.
struct CertificateSubject {
  std::string common_name;  // CN
  std::string unit;         // OU: the role; "" when the subject has none or several
};

// The subject of the first certificate in `pem`. InvalidArgument if `pem`
// holds no certificate or its subject has no CN or several.
absl::StatusOr<CertificateSubject> SubjectOfCertificate(absl::string_view pem);

// The subject of the verified client certificate of a call, as the TLS
// handshake established it. Unauthenticated when the call came without
// one (a plaintext server). REQUIRES: `context` belongs to a call in
// progress.
absl::StatusOr<CertificateSubject> AuthenticatedPeer(const grpc::ServerContextBase& context);

// The verified client certificate of a call itself, as PEM (the leaf).
// Errors as AuthenticatedPeer. REQUIRES: as AuthenticatedPeer.
absl::StatusOr<std::string> AuthenticatedPeerCertificate(const grpc::ServerContextBase& context);

// OK if `peer` has one of `roles`; else PermissionDenied saying that
// `action` needs one of them and what the peer presented.
absl::Status RequireRole(const CertificateSubject& peer, absl::Span<const absl::string_view> roles,
                         absl::string_view action);

// The TLS flags of a program (see AddTlsFlags).
struct TlsFlags {
  TlsFiles files;
  bool plaintext = false;
};

// Adds --tls-ca, --tls-cert and --tls-key to `app`, and for a program that
// runs a gRPC server (`server`) also --plaintext.
void AddTlsFlags(CLI::App& app, TlsFlags& flags, bool server);

// What the flags ask for: the files when TLS is on, nullopt for plaintext.
// InvalidArgument unless all three files or none are given, or if
// --plaintext comes with them. Does not read the files.
absl::StatusOr<std::optional<TlsFiles>> ResolveTlsFlags(const TlsFlags& flags);

// ResolveTlsFlags for a program serving on `listen_host`; additionally
// refuses (InvalidArgument) to serve in plaintext on a host that is not a
// loopback address unless --plaintext was given.
absl::StatusOr<std::optional<TlsFiles>> ResolveServerTlsFlags(const TlsFlags& flags,
                                                              absl::string_view listen_host);

// ResolveServerTlsFlags, then LoadTlsFiles: the checked PEM when TLS is on,
// nullopt for plaintext; the first error of either.
absl::StatusOr<std::optional<TlsPem>> LoadServerTls(const TlsFlags& flags,
                                                    absl::string_view listen_host);

// True for "localhost", IPv4 127.0.0.0/8 and IPv6 ::1 (with or without
// brackets); false for every other host, "0.0.0.0" and names included.
bool IsLoopbackHost(absl::string_view host);

}  // namespace canopy

#endif  // CANOPY_BASE_TLS_CREDENTIALS_H_
