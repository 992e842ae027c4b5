#ifndef CANOPY_WIRE_LINK_LISTENER_H_
#define CANOPY_WIRE_LINK_LISTENER_H_

#include <memory>
#include <set>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "wire/endpoint.h"
#include "wire/inbound_link.h"

namespace canopy::wire {

// Accepts data links from parent nodes on one TCP endpoint and runs an
// InboundLink for each. Thread-compatible: all methods run on the
// io_context's thread, except Open() which runs before the loop starts.
class LinkListener {
 public:
  // Binds `address` (port 0 = any free port) and starts accepting. Returns
  // the listener or an Unavailable/InvalidArgument status saying why not.
  static absl::StatusOr<std::unique_ptr<LinkListener>> Open(boost::asio::io_context& io,
                                                            const Endpoint& address,
                                                            uint32_t max_payload,
                                                            InboundLink::FrameHandler on_frame);

  LinkListener(const LinkListener&) = delete;
  LinkListener& operator=(const LinkListener&) = delete;

  // The bound address, with the real port.
  Endpoint bound() const { return bound_; }

  // Stops accepting and closes every live link.
  void Close();

 private:
  LinkListener(boost::asio::ip::tcp::acceptor acceptor, uint32_t max_payload,
               InboundLink::FrameHandler on_frame, Endpoint bound);
  void Accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  const uint32_t max_payload_;
  InboundLink::FrameHandler on_frame_;
  const Endpoint bound_;
  std::set<std::shared_ptr<InboundLink>> links_;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_LINK_LISTENER_H_
