#ifndef CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_
#define CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "proto/grpc_status.h"

namespace canopy {

// A channel to a node's client endpoint that admits the largest messages the
// node accepts.
std::shared_ptr<grpc::Channel> CreateNodeChannel(const std::string& address);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_
