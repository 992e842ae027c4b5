#ifndef CANOPY_CLIENT_SDK_SRC_SUBSCRIBE_REQUEST_H_
#define CANOPY_CLIENT_SDK_SRC_SUBSCRIBE_REQUEST_H_

#include "canopy/subscriber.h"
#include "canopy/v1/node.pb.h"

namespace canopy {

// The Subscribe request that joins `options.group` with the options' source
// filter and member name; `frame_link` asks the node to deliver on a client
// link instead of the gRPC stream. REQUIRES: `options` were validated
// (Subscriber::Open). Thread-safe.
v1::SubscribeRequest MakeSubscribeRequest(const SubscriberOptions& options, bool frame_link);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_SUBSCRIBE_REQUEST_H_
