#ifndef CANOPY_BASE_GRPC_STATUS_H_
#define CANOPY_BASE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace canopy {

// Module boundaries speak absl::Status, RPCs grpc::Status; the two share
// their code numbers. These keep code and message.
inline grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace canopy

#endif  // CANOPY_BASE_GRPC_STATUS_H_
