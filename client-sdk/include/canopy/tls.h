#ifndef CANOPY_CLIENT_SDK_TLS_H_
#define CANOPY_CLIENT_SDK_TLS_H_

#include <string>

namespace canopy {

// PEM files for mutual TLS with a node that serves TLS (README "TLS";
// scripts/make-certs makes them). The gRPC connection to the node and the
// client link beside it (Transport::kClientLink) are both encrypted and
// both ends authenticated: the link presents the same certificate as the
// gRPC call, and accepts only a node certificate (OU=node) of the CA that
// names the host dialed.
struct ClientTlsFiles {
  // CA certificate that signed the node's certificate.
  std::string ca;
  // This client's certificate. Publishing as source S needs one with
  // OU=publisher and CN=S (the base id of a striped source); subscribing
  // needs any certificate the node's CA signed.
  std::string cert;
  // Its private key (unencrypted).
  std::string key;
};

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_TLS_H_
