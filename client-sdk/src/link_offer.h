#ifndef CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "base/address.h"
#include "canopy/tls.h"
#include "canopy/transport.h"
#include "canopy/v1/node.pb.h"
#include "wire/client_link.h"

namespace canopy {

// The TLS of a client's links: none without `tls` files (plaintext, as the
// gRPC channel); else mutual TLS presenting the client's certificate and
// accepting only a node certificate (OU=node) of the CA that names the
// host dialed. Errors name the file that cannot be used (LoadTlsFiles).
absl::StatusOr<wire::ClientLinkTls> ClientLinkTlsFor(const std::optional<ClientTlsFiles>& tls);

// The largest payload the link of `offer` carries: what the node
// advertises (LinkOffer.max_payload_bytes; 16 MiB from a node that says
// nothing), never more than the wire format's wire::kMaxPayloadLimit.
uint32_t OfferedMaxPayload(const v1::LinkOffer& offer);

// Connects to the link the node at `node` offered, as `transport` asks
// (kAuto, kSharedMemory or kClientLink), and presents its token:
//  - shared memory through the offer's local socket (kSharedMemory; kAuto
//    when the offer names one and it answers);
//  - else the TCP client link, with the TLS handshake of `tls`.
// FailedPrecondition for kSharedMemory when the node offers no shared
// memory or is not on this host; Internal for an offer without a valid
// port; Unavailable if the link cannot be reached within 5 s;
// Unauthenticated / PermissionDenied if the node's certificate does not do.
absl::StatusOr<std::unique_ptr<wire::ClientLink>> ConnectOfferedLink(
    const HostPort& node, const v1::LinkOffer& offer, const wire::ClientLinkTls& tls,
    Transport transport);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_
