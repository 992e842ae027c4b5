#ifndef CANOPY_WIRE_LINK_LISTENER_H_
#define CANOPY_WIRE_LINK_LISTENER_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "wire/endpoint.h"
#include "wire/inbound_link.h"

namespace canopy::wire {

// How many links the listener carries at once; connections beyond either
// bound are closed on accept, counted and logged.
struct LinkLimits {
  // From one remote IP address (a node needs one data and one probe link
  // per peer; more means a misbehaving or hostile peer).
  int per_address = 64;
  int total = 4096;
};

// Accepts data links from parent nodes on one TCP endpoint and runs an
// InboundLink for each: plaintext, or mutual TLS binding each link to its
// parent's certificate (LinkTls; see InboundLink). Thread-compatible: all
// methods run on the io_context's thread, except Open() which runs before
// the loop starts, and the counters.
class LinkListener {
 public:
  // Binds `address` (port 0 = any free port) and starts accepting. Returns
  // the listener or an Unavailable/InvalidArgument status saying why not.
  static absl::StatusOr<std::unique_ptr<LinkListener>> Open(
      boost::asio::io_context& io, const Endpoint& address, uint32_t max_payload,
      InboundLink::FrameHandler on_frame, LinkLimits limits = {}, LinkTls tls = {});

  LinkListener(const LinkListener&) = delete;
  LinkListener& operator=(const LinkListener&) = delete;

  // The bound address, with the real port.
  Endpoint bound() const { return bound_; }

  // Stops accepting and closes every live link.
  void Close();

  // Connections refused by the LinkLimits since the start. Thread-safe.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Links closed because their TLS handshake failed or timed out (a
  // plaintext peer, no certificate, a certificate of another CA).
  // Thread-safe.
  uint64_t refused_tls() const { return refused_tls_.load(std::memory_order_relaxed); }
  // Links closed because the parent's certificate is not that of the node
  // its HELLO announces. Thread-safe.
  uint64_t refused_identity() const { return refused_identity_.load(std::memory_order_relaxed); }
  // Links closed because no HELLO came within InboundLink::kHelloTimeout.
  // Thread-safe.
  uint64_t refused_no_hello() const { return refused_no_hello_.load(std::memory_order_relaxed); }

 private:
  LinkListener(boost::asio::ip::tcp::acceptor acceptor, uint32_t max_payload,
               InboundLink::FrameHandler on_frame, Endpoint bound, LinkLimits limits, LinkTls tls);
  void Accept();
  // True if a link from `address` fits the limits (and is then counted).
  bool Admit(const std::string& address);

  boost::asio::ip::tcp::acceptor acceptor_;
  const uint32_t max_payload_;
  InboundLink::FrameHandler on_frame_;
  const Endpoint bound_;
  const LinkLimits limits_;
  const LinkTls tls_;
  std::set<std::shared_ptr<InboundLink>> links_;
  std::map<std::string, int> links_per_address_;
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> refused_tls_{0};
  std::atomic<uint64_t> refused_identity_{0};
  std::atomic<uint64_t> refused_no_hello_{0};
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_LINK_LISTENER_H_
