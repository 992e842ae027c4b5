#ifndef CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_

#include "absl/status/statusor.h"
#include "canopy/v1/node.pb.h"
#include "proto/address.h"
#include "wire/frame_socket.h"

namespace canopy {

// Connects to the client link the node at `node` offered and presents its
// token. Internal for an offer without a valid port; Unavailable if the
// link cannot be reached within 5 s.
absl::StatusOr<wire::FrameSocket> ConnectOfferedLink(const HostPort& node,
                                                     const v1::LinkOffer& offer);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_OFFER_H_
