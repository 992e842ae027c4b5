#ifndef CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_
#define CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace canopy {

// gRPC status → absl::Status, keeping code and message.
inline absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// A channel to a node's client endpoint that admits the largest messages the
// node accepts.
std::shared_ptr<grpc::Channel> CreateNodeChannel(const std::string& address);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_STATUS_CONVERSION_H_
