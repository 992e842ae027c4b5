#ifndef CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "canopy/publisher.h"

namespace canopy {

// Opens a Publisher whose messages travel on a client link (PublishOverLink).
// REQUIRES: `options` were validated.
absl::StatusOr<std::unique_ptr<Publisher>> OpenLinkPublisher(const PublisherOptions& options);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_PUBLISHER_H_
