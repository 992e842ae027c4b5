#ifndef CANOPY_WIRE_SHM_HANDOVER_H_
#define CANOPY_WIRE_SHM_HANDOVER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/generic/seq_packet_protocol.hpp"
#include "wire/shm_stream.h"

namespace canopy::wire {

// How a local link's rings change hands (docs/wire-format.md, "Local
// links"): after the client's HELLO, the node sends one message on the
// Unix socket whose payload is kShmGreeting and whose SCM_RIGHTS carry six
// descriptors in this order: the to-node ring, its data and room eventfds,
// the from-node ring, its data and room eventfds.
inline constexpr char kShmGreeting[] = "CANOPY-SHM 1";

// The endpoint of `name` in the abstract Unix-socket namespace, for an
// AF_UNIX SOCK_SEQPACKET socket. REQUIRES: name.size() <= 100.
boost::asio::generic::seq_packet_protocol::endpoint AbstractUnixEndpoint(absl::string_view name);
// The protocol of local links' sockets: AF_UNIX, SOCK_SEQPACKET.
boost::asio::generic::seq_packet_protocol LocalLinkProtocol();

// A fresh name in the abstract Unix-socket namespace for a node's local
// links: "canopy-links-PID-RANDOM" (reachable only from its network
// namespace, i.e. from its host).
std::string NewLocalLinkName();

// Node side: sends `directions`' descriptors over the connected Unix
// socket `socket`. Unavailable if the socket refuses them.
absl::Status SendShmDirections(int socket, const ShmDirections& directions);

// Client side: waits up to `timeout` for the node's message on `socket`
// and maps what it carries. Unavailable if the node closed the socket (it
// refused the token) or said nothing in time; InvalidArgument if the
// message is not a handover (wrong greeting, a missing or extra
// descriptor, a ring that does not map, a descriptor that is no eventfd).
absl::StatusOr<ShmDirections> ReceiveShmDirections(int socket, absl::Duration timeout);

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_SHM_HANDOVER_H_
