#ifndef CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "canopy/publisher.h"
#include "grpcpp/channel.h"

namespace canopy {

// Opens a Publisher whose messages travel on a client link (PublishOverLink)
// that it asks for on `channel`, the gRPC channel to the node; with
// options.tls the link runs mutual TLS. REQUIRES: `options` were validated.
absl::StatusOr<std::unique_ptr<Publisher>> OpenLinkPublisher(
    const PublisherOptions& options, std::shared_ptr<grpc::Channel> channel);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_
