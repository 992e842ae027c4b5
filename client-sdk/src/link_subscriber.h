#ifndef CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_
#define CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_

#include <memory>

#include "canopy/subscriber.h"
#include "canopy/v1/node.pb.h"

namespace canopy {

// The Subscribe request for `options`.
v1::SubscribeRequest MakeSubscribeRequest(const SubscriberOptions& options, bool frame_link);

// Opens a Subscriber whose messages arrive on a client link (Subscribe
// with frame_link). REQUIRES: `options` were validated.
std::unique_ptr<Subscriber> OpenLinkSubscriber(const SubscriberOptions& options);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_LINK_SUBSCRIBER_H_
