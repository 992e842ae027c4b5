#ifndef CANOPY_CLIENT_SDK_SRC_NODE_CHANNEL_H_
#define CANOPY_CLIENT_SDK_SRC_NODE_CHANNEL_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/grpc_status.h"
#include "canopy/tls.h"
#include "grpcpp/channel.h"

namespace canopy {

// How the SDK reaches its node's gRPC service. Both functions are
// thread-safe.

// A channel to a node's client endpoint that admits the largest messages a
// node may be configured to accept (wire::kMaxPayloadLimit) and no larger;
// mutual TLS with `tls`, else plaintext. Errors name the TLS
// file that cannot be used (base/tls_credentials.h, LoadTlsFiles).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateNodeChannel(
    const std::string& address, const std::optional<ClientTlsFiles>& tls);

// The absl::Status of a call to the node at `address` over `channel` that
// ended with `status`; UNIMPLEMENTED is explained when the server there is
// not a Canopy node ("... is a Canopy controller, not a node";
// proto/server_kind.h). Blocking (up to 2 s) only in that case.
absl::Status NodeCallStatus(const grpc::Status& status,
                            const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& address);

}  // namespace canopy

#endif  // CANOPY_CLIENT_SDK_SRC_NODE_CHANNEL_H_
