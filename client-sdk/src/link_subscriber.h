#ifndef CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "canopy/subscriber.h"
#include "grpcpp/channel.h"

namespace canopy {

// Opens a Subscriber whose messages arrive on a client link (Subscribe
// with frame_link) that it asks for on `channel`, the gRPC channel to the
// node; with options.tls the link runs mutual TLS. Errors: unusable TLS
// files (naming the file). REQUIRES: `options` were validated.
absl::StatusOr<std::unique_ptr<Subscriber>> OpenLinkSubscriber(
    const SubscriberOptions& options, std::shared_ptr<grpc::Channel> channel);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_
