#ifndef CANOPY_BASE_PEM_H_
#define CANOPY_BASE_PEM_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include "absl/strings/string_view.h"

namespace canopy {

// OpenSSL objects read from PEM text, owned. The one PEM reader of the gRPC
// credentials (tls_credentials.h) and the data plane's TLS (wire/).

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The certificates in `pem`, in order; empty if it holds none. Clears the
// OpenSSL error queue of the read that ended the list. Thread-safe.
std::vector<X509Ptr> ReadPemCertificates(absl::string_view pem);

// The private key in `pem`, or null if it holds none. Never prompts for a
// pass phrase (OpenSSL's default would, on a terminal): an encrypted key
// simply fails to load. Thread-safe.
PkeyPtr ReadPemPrivateKey(absl::string_view pem);

}  // namespace canopy

#endif  // CANOPY_BASE_PEM_H_
