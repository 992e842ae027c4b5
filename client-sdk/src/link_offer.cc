#include "src/link_offer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/tls_credentials.h"
#include "wire/frame.h"

namespace canopy {

absl::StatusOr<wire::ClientLinkTls> ClientLinkTlsFor(const std::optional<ClientTlsFiles>& tls) {
  wire::ClientLinkTls link_tls;
  if (!tls) return link_tls;
  absl::StatusOr<TlsPem> pem = LoadTlsFiles(TlsFiles{tls->ca, tls->cert, tls->key});
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::shared_ptr<wire::TlsContext>> context =
      wire::TlsContext::Create({pem->ca, pem->cert, pem->key});
  if (!context.ok()) return context.status();
  link_tls.context = *std::move(context);
  link_tls.peer_unit = std::string(kRoleNode);
  return link_tls;
}

uint32_t OfferedMaxPayload(const v1::LinkOffer& offer) {
  if (offer.max_payload_bytes() == 0) return wire::kDefaultMaxPayload;
  return std::min(offer.max_payload_bytes(), wire::kMaxPayloadLimit);
}

absl::StatusOr<std::unique_ptr<wire::ClientLink>> ConnectOfferedLink(
    const HostPort& node, const v1::LinkOffer& offer, const wire::ClientLinkTls& tls,
    Transport transport) {
  constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
  if (transport == Transport::kSharedMemory && offer.local_socket().empty()) {
    return absl::FailedPreconditionError(
        "the node offers no shared-memory link (it runs with --local-ring-mib 0, or its "
        "version has none); use --transport link");
  }
  if (transport != Transport::kClientLink && !offer.local_socket().empty()) {
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> local =
        wire::ClientLink::ConnectLocal(offer.local_socket(), offer.token(), kConnectTimeout);
    if (local.ok() || transport == Transport::kSharedMemory) {
      if (!local.ok() && absl::IsUnavailable(local.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("no shared-memory link to the node (is it on this host, in this "
                         "network namespace?): ",
                         local.status().message()));
      }
      return local;
    }
    // Another host or network namespace: the TCP link below.
  }
  if (offer.port() == 0 || offer.port() > 65535) {
    return absl::InternalError(absl::StrCat("the node offered port ", offer.port()));
  }
  return wire::ClientLink::Connect(wire::Endpoint{node.host, static_cast<uint16_t>(offer.port())},
                                   offer.token(), kConnectTimeout, tls);
}

}  // namespace canopy
