#ifndef CANOPY_WIRE_OUTBOUND_LINK_H_
#define CANOPY_WIRE_OUTBOUND_LINK_H_

#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/steady_timer.hpp"
#include "wire/endpoint.h"
#include "wire/frame.h"
#include "wire/queued_link.h"
#include "wire/tls_context.h"

namespace canopy::wire {

class OutboundLink;

// Gets each RESUME or PONG frame the child sends back (and the link it came
// on), on the io_context.
using ControlHandler = std::function<void(FramePtr, const std::shared_ptr<QueuedLink>&)>;

struct OutboundLinkOptions {
  // Node id announced in the link's HELLO frame, and the node's link token
  // (NodeHello.link_token; empty: none).
  std::string local_node_id;
  std::string link_token;
  // Send() reports the link as full above this many queued bytes...
  size_t high_watermark_bytes = 8u << 20;
  // ...and drain waiters run once the queue is back at or below this.
  size_t low_watermark_bytes = 2u << 20;
  // How long to keep retrying the TCP connect before giving up.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Control frames from the child; null = they are read and ignored.
  ControlHandler on_control;
  // Mutual TLS (docs/wire-format.md, "Encryption"); plaintext without a
  // context. The child's certificate must have OU tls.peer_unit and CN =
  // the peer node the link is opened to; a handshake that fails or a
  // certificate of another node closes the link (no retry).
  LinkTls tls;
};

// A TCP link to one child node: connects (retrying until connect_timeout),
// sends a HELLO frame, then sends queued frames in order with gathered
// writes. It reads the control frames the child sends back (RESUME, PONG);
// anything else from the child, or the child closing, closes the link. With
// TLS the frames are encrypted on their way out (Asio's SSL stream copies
// small frames into one record; large ones are encrypted from where they
// are). Frames are shared pointers: nothing is copied per link. The queue
// is bounded by the caller, who checks OverHighWatermark() after Send() and
// waits with NotifyWhenDrained() (back pressure).
//
// Thread-safe: Send, Close, NotifyWhenDrained and the accessors may be called
// from any thread; I/O runs on the io_context given at construction.
class OutboundLink final : public QueuedLink, public std::enable_shared_from_this<OutboundLink> {
 public:
  // Called once, on the io_context, when the link closes for any reason
  // (OK status after Close()).
  using ClosedCallback = std::function<void(const absl::Status&)>;

  // Starts connecting to `address` of node `peer_node`.
  static std::shared_ptr<OutboundLink> Start(boost::asio::io_context& io, std::string peer_node,
                                             Endpoint address, OutboundLinkOptions options,
                                             ClosedCallback on_closed);

  OutboundLink(const OutboundLink&) = delete;
  OutboundLink& operator=(const OutboundLink&) = delete;
  ~OutboundLink() override;

  // Queues `frame` behind the ones already queued. Returns false (and drops
  // the frame) if the link is closed.
  bool Send(FramePtr frame) override;

  // Like Send(), but never lets the queue grow past the high watermark: the
  // oldest queued DATA frames (not yet handed to the socket) are dropped to
  // make room, and counted. For receivers that must never slow the sender
  // (`realtime`).
  bool SendDroppingOldest(FramePtr frame) override;

  // DATA frames dropped by SendDroppingOldest since the link started.
  uint64_t dropped_frames() const override;

  // True while queued bytes exceed the high watermark.
  bool OverHighWatermark() const override;

  // Queued (not yet written) bytes.
  size_t QueuedBytes() const override;

  // Bytes written to the socket since the link started.
  uint64_t WrittenBytes() const override;

  // Runs `ready` (on the io_context) once queued bytes are at or below the
  // low watermark, or the link closes; at once if that is already so.
  void NotifyWhenDrained(std::function<void()> ready) override;

  // Closes the link; queued frames are dropped. Idempotent.
  void Close() override;

  bool closed() const override;
  const std::string& peer_node() const override { return peer_node_; }
  const Endpoint& address() const override { return address_; }
  std::string remote_address() const override { return address_.ToString(); }

 private:
  OutboundLink(boost::asio::io_context& io, std::string peer_node, Endpoint address,
               OutboundLinkOptions options, ClosedCallback on_closed);

  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  void Resolve();
  void Connect(boost::asio::ip::tcp::resolver::results_type endpoints);
  // After the TCP connect: the TLS handshake if configured, then Flow().
  void Secure();
  // Starts reading control frames and writing the queue.
  void Flow();
  // Runs `op` on the stream the link's bytes go through: the TLS stream
  // or the bare socket. I/O thread.
  template <typename Op>
  void OnStream(Op&& op);
  void RetryOrFail(const std::string& why);
  void MaybeStartWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWritten(const boost::system::error_code& ec, const std::vector<FramePtr>& batch);
  void Fail(absl::Status status);
  void ReadControl();
  std::vector<std::function<void()>> TakeDrainWaitersIfDrained() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  boost::asio::io_context& io_;
  const std::string peer_node_;
  const Endpoint address_;
  const OutboundLinkOptions options_;
  const absl::Time connect_deadline_;
  boost::asio::ip::tcp::socket socket_;
  // The TLS session over socket_, made once the TCP connect succeeded;
  // used on the io_context only.
  std::unique_ptr<TlsStream> tls_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer retry_timer_;
  std::array<char, kHeaderSize> control_header_{};  // used on the io_context

  mutable absl::Mutex mu_;
  ClosedCallback on_closed_ ABSL_GUARDED_BY(mu_);
  std::deque<FramePtr> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_frames_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> drain_waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_OUTBOUND_LINK_H_
