#ifndef CANOPY_WIRE_INBOUND_LINK_H_
#define CANOPY_WIRE_INBOUND_LINK_H_

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/steady_timer.hpp"
#include "wire/frame.h"
#include "wire/frame_sender.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// The receiving end of a link from a parent node: reads frames one at a time,
// validates each (a malformed frame closes only this link, with a log line)
// and hands HELLO, DATA, GAP and RESUME frames to a handler (RESUME only
// children send: the handler counts and drops it). The first frame must be
// HELLO, within kHelloTimeout of the connection. PING is answered with PONG
// here; PONG from a parent is a protocol error. Control frames for the
// parent go back with Send().
//
// With TLS (LinkTls) the link first runs the server side of a mutual TLS
// handshake (within kTlsHandshakeTimeout) and then binds itself to the
// parent's certificate: the node id its HELLO announces (without a probe
// suffix) must be the certificate's CN, with OU tls.peer_unit. A failed
// handshake (a plaintext peer, no certificate, another CA) or another
// node's certificate closes the link before any frame is handed on;
// refusal() says which.
//
// Thread-compatible: every method except Resume(), Send() and closed()
// must run on the link's io_context thread; those three may be called from
// any thread.
class InboundLink final : public FrameSender, public std::enable_shared_from_this<InboundLink> {
 public:
  // Gets the HELLO frame (peer_node() is set by then), then each DATA, GAP
  // and RESUME frame. The handler may call Pause() to stop reading until
  // Resume() (back pressure to the sender).
  using FrameHandler = std::function<void(FramePtr, InboundLink&)>;
  // Called once when the link closes (OK status for a clean EOF or Close()).
  using ClosedCallback = std::function<void(InboundLink&, const absl::Status&)>;

  // Why a link was closed before it carried anything.
  enum class Refusal {
    kNone,
    // The TLS handshake failed or timed out.
    kTlsHandshake,
    // The parent's certificate does not name the node its HELLO announces.
    kIdentity,
    // No HELLO within kHelloTimeout of the connection (an idle socket
    // holding a peer's link quota).
    kNoHello,
  };

  // How long a TLS handshake may take.
  static constexpr std::chrono::seconds kTlsHandshakeTimeout{5};
  // How long after the connection its HELLO must have arrived (the TLS
  // handshake included).
  static constexpr std::chrono::seconds kHelloTimeout{5};

  // `tls` disabled: a plaintext link.
  InboundLink(boost::asio::ip::tcp::socket socket, uint32_t max_payload, FrameHandler on_frame,
              ClosedCallback on_closed, LinkTls tls = {});
  InboundLink(const InboundLink&) = delete;
  InboundLink& operator=(const InboundLink&) = delete;

  // Starts reading. REQUIRES: called once.
  void Start();
  // Stops reading after the current frame.
  void Pause() { paused_ = true; }
  // Resumes reading if paused. Thread-safe.
  void Resume();
  // Closes the socket; the closed callback runs with OK.
  void Close();

  // Queues a control frame (RESUME) for the parent; frames go out in order.
  // Dropped if the link is closed. Any thread.
  bool Send(FramePtr frame) override;
  bool closed() const override { return closed_.load(std::memory_order_acquire); }

  // Node id the parent announced in its HELLO; empty before it arrives.
  const std::string& peer_node() const override { return peer_node_; }
  // The link token its HELLO carried (NodeHello.link_token); empty if none.
  const std::string& peer_token() const { return peer_token_; }
  // True if the HELLO marked this as a probe link (kProbeHelloSuffix): it
  // carries only PING, never DATA.
  bool probe() const { return probe_; }
  // "ip:port" of the remote end.
  const std::string& remote() const { return remote_; }
  std::string remote_address() const override { return remote_; }
  // Set when the link was refused for its TLS handshake or identity.
  Refusal refusal() const { return refusal_; }

 private:
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  // The server side of the TLS handshake (a plaintext peer is refused
  // first), then ReadHeader().
  void Handshake();
  void SecureHandshake();
  // Runs `op` on the TLS stream or the bare socket.
  template <typename Op>
  void OnStream(Op&& op);
  void ReadHeader();
  void ReadPayload(FrameBuffer bytes);
  void OnFrame(FramePtr frame);
  void Finish(absl::Status status);
  void WriteNext();
  // Send() on the I/O thread.
  void SendNow(FramePtr frame);

  boost::asio::ip::tcp::socket socket_;
  const LinkTls tls_options_;
  // With TLS: the session over socket_, its handshake deadline, and the
  // parent's verified certificate once the handshake is done.
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<boost::asio::steady_timer> handshake_timer_;
  std::unique_ptr<boost::asio::steady_timer> hello_timer_;
  PeerCertificate peer_certificate_;
  uint8_t first_byte_ = 0;
  Refusal refusal_ = Refusal::kNone;
  const uint32_t max_payload_;
  FrameHandler on_frame_;
  ClosedCallback on_closed_;
  std::array<char, kHeaderSize> header_{};
  std::string peer_node_;
  std::string peer_token_;
  std::string remote_;
  bool probe_ = false;
  bool paused_ = false;
  bool reading_ = false;
  std::atomic<bool> closed_{false};
  std::deque<FramePtr> outgoing_;
  bool writing_ = false;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_INBOUND_LINK_H_
