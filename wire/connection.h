#ifndef CANOPY_WIRE_CONNECTION_H_
#define CANOPY_WIRE_CONNECTION_H_

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/asio/buffer.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/steady_timer.hpp"
#include "wire/frame.h"
#include "wire/shm_stream.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// Which end of a TLS handshake this is.
enum class TlsRole { kConnect, kAccept };

// One established connection carrying frames — a TCP connection, with
// mutual TLS over it when configured, or a local link's shared-memory
// rings (ShmStream): reads one frame at a time (its header, then a buffer
// of exactly the length announced, bounded by the caller's limit) and
// writes runs of frames with one gathered write. The one byte-stream layer
// under client links on both ends; frames, limits and TLS are those of
// docs/wire-format.md.
//
// Thread-compatible: every method runs on the connection's executor (the
// io_context thread it belongs to). One read and one write may be in
// flight at once. Handlers run on the executor.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::ip::tcp::socket;

  // Adopts a connected socket.
  static std::shared_ptr<Connection> Adopt(Socket socket);
  // Adopts a local link's rings.
  static std::shared_ptr<Connection> AdoptLocal(std::shared_ptr<ShmStream> stream);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // TCP only. Runs the TLS handshake of `role` with `context` within `timeout`; a
  // connecting end also checks that the peer's certificate names
  // `verify_host` (an IP address or DNS name; empty = no check). Then
  // every read and write goes through TLS, and peer() says who the peer
  // is. Unauthenticated naming what failed.
  void Handshake(std::shared_ptr<TlsContext> context, TlsRole role, std::string verify_host,
                 std::chrono::milliseconds timeout, std::function<void(absl::Status)> done);

  // Reads one frame: its header (decoded and checked against `max_payload`
  // and the control-frame limit) and its payload, into one buffer of the
  // frame's size. The checksum is not verified here (Frame::Adopt does).
  // Unavailable on EOF or a broken connection (OutOfRange for a clean EOF
  // between frames), InvalidArgument for a malformed header.
  void ReadFrame(uint32_t max_payload,
                 std::function<void(absl::StatusOr<FrameBuffer>, FrameHeader)> done);

  // Reads one frame's payload straight into `*payload` (resized to it, not
  // zero-filled first) and verifies its checksum; `done` gets the header.
  // Errors as ReadFrame, plus DataLoss for a checksum mismatch.
  // REQUIRES: `payload` outlives the read.
  void ReadFrameInto(std::string* payload, uint32_t max_payload,
                     std::function<void(absl::StatusOr<FrameHeader>)> done);

  // Writes `buffers` (whose memory `keep` keeps alive) in one gathered
  // write.
  void Write(std::vector<boost::asio::const_buffer> buffers, std::shared_ptr<const void> keep,
             std::function<void(absl::Status)> done);

  // Sends a TLS close_notify where there is TLS, then half-closes the
  // sending side (the peer reads a clean end).
  void ShutdownWrite();
  // Closes the socket: operations in flight end with an error. Idempotent.
  void Close();
  bool closed() const { return closed_; }

  // TCP only. Peeks at the first byte without consuming it: `done` gets it, or an
  // error if the peer sent nothing / went away.
  void PeekFirstByte(std::function<void(absl::StatusOr<uint8_t>)> done);

  // With TLS after the handshake: the peer's verified certificate, and the
  // negotiated protocol and suite ("plaintext" without TLS, "shared
  // memory" for a local link).
  const PeerCertificate& peer() const { return peer_; }
  std::string security() const;
  bool secure() const { return tls_ != nullptr; }
  bool local() const { return shm_ != nullptr; }
  // "ip:port" of the remote end ("local pid N" for a local link).
  const std::string& remote() const { return remote_; }
  boost::asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  using TlsStream = boost::asio::ssl::stream<Socket&>;
  explicit Connection(Socket socket);

  // What `ec` means here (a corrupt ring says what was wrong).
  std::string Describe(const boost::system::error_code& ec) const;
  // Runs `op` on the rings, the TLS stream or the bare socket.
  template <typename Op>
  void OnStream(Op&& op);
  // Reads and checks a frame header, then runs `then` with it (or `fail`
  // with why not).
  void ReadHeader(uint32_t max_payload, std::function<void(FrameHeader)> then,
                  std::function<void(absl::Status)> fail);

  Socket socket_;
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<ShmStream> shm_;
  PeerCertificate peer_;
  std::string remote_;
  std::array<char, kHeaderSize> header_{};
  uint8_t first_byte_ = 0;
  bool closed_ = false;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_CONNECTION_H_
