#include "base/tls_credentials.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/pem.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"

namespace canopy {
namespace {

// Larger "PEM files" are refused: certificates and keys are a few KiB.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

// `label` ("--tls-ca", ...) and the path, for messages.
std::string Name(absl::string_view label, const std::string& path) {
  return absl::StrCat(label, " '", path, "'");
}

absl::StatusOr<std::string> ReadPemFile(absl::string_view label, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(label, ": no file given"));
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat(Name(label, path), ": cannot read it (", error.message(), ")"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(Name(label, path), ": not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat(Name(label, path), ": cannot read it (", std::strerror(errno), ")"));
  }
  std::string text(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(Name(label, path), ": read failed"));
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxPemBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Name(label, path), ": larger than ", kMaxPemBytes, " bytes, not a PEM file"));
  }
  return text;
}

absl::Status NotPem(absl::string_view label, const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Name(label, path), ": holds no PEM ", what));
}

// The text of one entry of an X509 name.
std::string EntryText(X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (n < 0) return "";
  std::string text(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return text;
}

// Every value of attribute `nid` in `name`.
std::vector<std::string> Entries(X509_NAME* name, int nid) {
  std::vector<std::string> values;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    values.push_back(EntryText(X509_NAME_get_entry(name, i)));
  }
  return values;
}

}  // namespace

absl::StatusOr<TlsPem> LoadTlsFiles(const TlsFiles& files) {
  TlsPem pem;
  absl::StatusOr<std::string> ca = ReadPemFile("--tls-ca", files.ca);
  if (!ca.ok()) return ca.status();
  pem.ca = *std::move(ca);
  if (ReadPemCertificates(pem.ca).empty()) return NotPem("--tls-ca", files.ca, "certificate");

  absl::StatusOr<std::string> cert = ReadPemFile("--tls-cert", files.cert);
  if (!cert.ok()) return cert.status();
  pem.cert = *std::move(cert);
  std::vector<X509Ptr> chain = ReadPemCertificates(pem.cert);
  if (chain.empty()) return NotPem("--tls-cert", files.cert, "certificate");
  if (X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(Name("--tls-cert", files.cert), ": the certificate has expired"));
  }

  absl::StatusOr<std::string> key = ReadPemFile("--tls-key", files.key);
  if (!key.ok()) return key.status();
  pem.key = *std::move(key);
  PkeyPtr pkey = ReadPemPrivateKey(pem.key);
  ERR_clear_error();
  if (pkey == nullptr) {
    if (pem.key.find("ENCRYPTED") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          Name("--tls-key", files.key), ": the key is encrypted; give an unencrypted key"));
    }
    return NotPem("--tls-key", files.key, "private key");
  }
  if (X509_check_private_key(chain.front().get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(Name("--tls-key", files.key),
                                                   " is not the key of the certificate ",
                                                   Name("--tls-cert", files.cert)));
  }
  return pem;
}

std::shared_ptr<grpc::ServerCredentials> TlsServerCredentials(const TlsPem& pem) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pem.ca;
  options.pem_key_cert_pairs.push_back({pem.key, pem.cert});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> TlsChannelCredentials(const TlsPem& pem) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pem.ca;
  options.pem_private_key = pem.key;
  options.pem_cert_chain = pem.cert;
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const std::optional<TlsFiles>& tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  absl::StatusOr<TlsPem> pem = LoadTlsFiles(*tls);
  if (!pem.ok()) return pem.status();
  return TlsChannelCredentials(*pem);
}

absl::StatusOr<CertificateSubject> SubjectOfCertificate(absl::string_view pem) {
  std::vector<X509Ptr> certs = ReadPemCertificates(pem);
  if (certs.empty()) return absl::InvalidArgumentError("no PEM certificate");
  X509_NAME* name = X509_get_subject_name(certs.front().get());
  std::vector<std::string> cn = Entries(name, NID_commonName);
  if (cn.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the certificate's subject has ", cn.size(), " CNs; exactly one is needed"));
  }
  std::vector<std::string> ou = Entries(name, NID_organizationalUnitName);
  return CertificateSubject{std::move(cn.front()), ou.size() == 1 ? std::move(ou.front()) : ""};
}

absl::StatusOr<std::string> AuthenticatedPeerCertificate(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the call came without a verified client certificate");
  }
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) {
    return absl::UnauthenticatedError("the call came without a verified client certificate");
  }
  return std::string(pem.front().data(), pem.front().size());
}

absl::StatusOr<CertificateSubject> AuthenticatedPeer(const grpc::ServerContextBase& context) {
  absl::StatusOr<std::string> pem = AuthenticatedPeerCertificate(context);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<CertificateSubject> subject = SubjectOfCertificate(*pem);
  if (!subject.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("client certificate: ", subject.status().message()));
  }
  return subject;
}

absl::Status RequireRole(const CertificateSubject& peer, absl::Span<const absl::string_view> roles,
                         absl::string_view action) {
  for (absl::string_view role : roles) {
    if (peer.unit == role) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      action, " needs a certificate with OU=", absl::StrJoin(roles, " or OU="),
      "; this one has OU=", peer.unit.empty() ? "(none)" : peer.unit, ", CN=", peer.common_name));
}

void AddTlsFlags(CLI::App& app, TlsFlags& flags, bool server) {
  app.add_option("--tls-ca", flags.files.ca,
                 "TLS: PEM file of the CA that signs peers' certificates (with --tls-cert and "
                 "--tls-key; see scripts/make-certs)");
  app.add_option("--tls-cert", flags.files.cert, "TLS: PEM file of this program's certificate");
  app.add_option("--tls-key", flags.files.key, "TLS: PEM file of this program's private key");
  if (server) {
    app.add_flag("--plaintext", flags.plaintext,
                 "serve without TLS on a non-loopback address: anyone who reaches the port may "
                 "call it (plaintext on loopback needs no flag)");
  }
}

absl::StatusOr<std::optional<TlsFiles>> ResolveTlsFlags(const TlsFlags& flags) {
  const TlsFiles& f = flags.files;
  const int given = !f.ca.empty() + !f.cert.empty() + !f.key.empty();
  if (given == 0) return std::nullopt;
  if (flags.plaintext) {
    return absl::InvalidArgumentError("--plaintext excludes --tls-ca, --tls-cert and --tls-key");
  }
  if (given < 3) {
    std::vector<absl::string_view> missing;
    if (f.ca.empty()) missing.push_back("--tls-ca");
    if (f.cert.empty()) missing.push_back("--tls-cert");
    if (f.key.empty()) missing.push_back("--tls-key");
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca, --tls-cert and --tls-key go together: missing ",
                     absl::StrJoin(missing, " and ")));
  }
  return f;
}

absl::StatusOr<std::optional<TlsFiles>> ResolveServerTlsFlags(const TlsFlags& flags,
                                                              absl::string_view listen_host) {
  absl::StatusOr<std::optional<TlsFiles>> tls = ResolveTlsFlags(flags);
  if (!tls.ok() || tls->has_value() || flags.plaintext || IsLoopbackHost(listen_host)) return tls;
  return absl::InvalidArgumentError(absl::StrCat(
      "refusing to serve in plaintext on ", listen_host,
      ", which is not a loopback address: give --tls-ca, --tls-cert and --tls-key (see "
      "scripts/make-certs), or --plaintext to let anyone who reaches the port call it"));
}

absl::StatusOr<std::optional<TlsPem>> LoadServerTls(const TlsFlags& flags,
                                                    absl::string_view listen_host) {
  absl::StatusOr<std::optional<TlsFiles>> files = ResolveServerTlsFlags(flags, listen_host);
  if (!files.ok()) return files.status();
  if (!files->has_value()) return std::optional<TlsPem>();
  absl::StatusOr<TlsPem> pem = LoadTlsFiles(**files);
  if (!pem.ok()) return pem.status();
  return std::optional<TlsPem>(*std::move(pem));
}

bool IsLoopbackHost(absl::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  const std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace canopy
