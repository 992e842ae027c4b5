#ifndef CANOPY_PROTO_SERVER_KIND_H_
#define CANOPY_PROTO_SERVER_KIND_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"

namespace canopy {

// The kinds of Canopy server a client talks to.
enum class CanopyServer {
  kController,  // canopy.v1.Controller (canopy-controller --listen)
  kNode,        // canopy.v1.Node (canopy-node --listen)
};

// The status of a call to the `expected` kind of server at `address`,
// reached over `channel`, that ended with `status`. UNIMPLEMENTED means the
// server there does not have the method: this asks its grpc.health.v1
// service which Canopy service it knows (1 s at most) and says so, e.g.
// UNIMPLEMENTED "127.0.0.1:7600 is a Canopy controller, not a node", or
// "... is not a Canopy node: it serves neither canopy.v1.Node nor
// canopy.v1.Controller". Any other status comes back unchanged.
// Blocking; call it where a call's failure is reported, not on a data path.
absl::Status ExplainWrongServer(const absl::Status& status,
                                const std::shared_ptr<grpc::ChannelInterface>& channel,
                                absl::string_view address, CanopyServer expected);

}  // namespace canopy

#endif  // CANOPY_PROTO_SERVER_KIND_H_
