#include "src/link_offer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "wire/client_link.h"

namespace canopy {

absl::StatusOr<wire::FrameSocket> ConnectOfferedLink(const HostPort& node,
                                                     const v1::LinkOffer& offer) {
  constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
  if (offer.port() == 0 || offer.port() > 65535) {
    return absl::InternalError(absl::StrCat("the node offered port ", offer.port()));
  }
  return wire::ConnectClientLink(wire::Endpoint{node.host, static_cast<uint16_t>(offer.port())},
                                 offer.token(), kConnectTimeout);
}

}  // namespace canopy
