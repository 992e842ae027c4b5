#ifndef CANOPY_WIRE_FRAME_SOCKET_H_
#define CANOPY_WIRE_FRAME_SOCKET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "wire/endpoint.h"
#include "wire/frame.h"
#include "wire/tls_context.h"

namespace canopy::wire {

// Asked while a call waits for the socket; returning true abandons the call
// with Cancelled. Null means "never give up".
using StopRequested = std::function<bool()>;

// Which end of a TLS handshake a FrameSocket plays.
enum class TlsRole { kConnect, kAccept };

// One TCP connection carrying frames, driven by the calling thread: every
// call blocks until done, the peer fails, or `stop` says to give up (asked
// at least every 100 ms while waiting). Used between a client and its
// local node, where a dedicated thread per connection is the simplest and
// fastest shape: header and payload go out with one gathered write and
// come in straight into the frame's own buffer.
//
// After StartTls() every byte is encrypted (mutual TLS, tls_context.h):
// small parts of a write are gathered into one record, large ones are
// encrypted from where they are, the records go to the socket in batches
// of up to 256 KiB (one system call each, not one per 16 KiB record), and
// reads still land in the frame's own buffer.
//
// Move-only. Thread-compatible, except Shutdown(), which any thread may
// call to wake a blocked call (it then fails), and except that one thread
// may Read while another Writes (each TLS call takes a lock; waiting for
// the socket does not).
class FrameSocket {
 public:
  FrameSocket();
  FrameSocket(FrameSocket&& other) noexcept;
  FrameSocket& operator=(FrameSocket&& other) noexcept;
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;
  ~FrameSocket();

  // Connects to `to` (host must be a numeric address or resolvable name).
  // Unavailable if nothing accepts within `timeout`.
  static absl::StatusOr<FrameSocket> Connect(const Endpoint& to, absl::Duration timeout);

  // Takes over a connected socket descriptor.
  explicit FrameSocket(int fd);

  // Runs a mutual TLS handshake as the connecting or the accepting end;
  // afterwards every read and write is encrypted. The peer's certificate
  // must chain to the context's CA, and when `verify_host` is not empty
  // (connecting end) name it (a DNS name or an IP address). Unauthenticated
  // with OpenSSL's reason when the handshake fails; Cancelled if `stop`
  // said so first. REQUIRES: valid(), no TLS yet, nothing read or written.
  absl::Status StartTls(TlsContext& context, TlsRole role, absl::string_view verify_host,
                        const StopRequested& stop);

  // True after StartTls() succeeded.
  bool tls() const;
  // The peer's verified certificate; null without TLS.
  const PeerCertificate* peer_certificate() const;
  // "TLSv1.3 TLS_AES_128_GCM_SHA256", or "plaintext".
  std::string security() const;

  // Waits for the first byte the peer sends and returns it without
  // consuming it. OutOfRange if the peer closes first; Cancelled if `stop`
  // said so. REQUIRES: nothing read yet, no TLS.
  absl::StatusOr<uint8_t> PeekFirstByte(const StopRequested& stop);

  // Writes every byte of `parts`, in order, with gathered writes.
  // Unavailable if the peer went away; Cancelled if `stop` said so.
  absl::Status Write(absl::Span<const absl::string_view> parts, const StopRequested& stop);

  // Reads one frame and validates its header against `max_payload` (the
  // checksum is left to Frame::Adopt / Frame::Restamp). OutOfRange at a
  // clean end of stream between frames; InvalidArgument for a malformed
  // header; Unavailable for a connection that broke or ended mid-frame;
  // Cancelled if `stop` said so.
  absl::StatusOr<FrameBuffer> Read(uint32_t max_payload, const StopRequested& stop);

  // Like Read(), but leaves the payload in `payload` (resized to fit) and
  // verifies the checksum (DataLoss on a mismatch). Returns the header.
  absl::StatusOr<FrameHeader> ReadInto(std::string& payload, uint32_t max_payload,
                                       const StopRequested& stop);

  // Ends this side's writing: the peer reads end-of-stream after the bytes
  // already written (with TLS: after a close_notify alert).
  void ShutdownWrite();
  // Ends both directions; blocked calls on other threads fail. Thread-safe.
  void Shutdown();

  bool valid() const { return fd_ >= 0; }
  // "ip:port" of the peer.
  std::string peer() const;

  // The TLS session (heap-allocated so the socket stays movable); an
  // implementation detail of frame_socket.cc.
  struct Tls;

 private:
  // Waits until the socket is readable (or writable); Cancelled if `stop`
  // said so first.
  absl::Status Await(bool for_write, const StopRequested& stop);
  absl::Status ReadExactly(char* out, size_t n, bool at_frame_start, const StopRequested& stop);
  // Write() with TLS: encrypts `bytes` into records (sent in batches).
  absl::Status WriteTls(absl::Span<const absl::string_view> parts, const StopRequested& stop);
  absl::Status WriteAllTls(absl::string_view bytes, const StopRequested& stop);
  // Sends the records the TLS session holds.
  absl::Status FlushTls(const StopRequested& stop);

  int fd_ = -1;
  std::unique_ptr<Tls> tls_;
};

// A listening TCP socket that hands out FrameSockets. Move-only;
// thread-compatible.
class FrameSocketListener {
 public:
  FrameSocketListener() = default;
  FrameSocketListener(FrameSocketListener&& other) noexcept;
  FrameSocketListener& operator=(FrameSocketListener&& other) noexcept;
  FrameSocketListener(const FrameSocketListener&) = delete;
  FrameSocketListener& operator=(const FrameSocketListener&) = delete;
  ~FrameSocketListener();

  // Listens on `host` (an address or a name, "0.0.0.0" / "::" for every
  // interface) at any free port.
  static absl::StatusOr<FrameSocketListener> Open(const std::string& host);

  uint16_t port() const { return port_; }

  // Waits for the next connection. DeadlineExceeded at `deadline`,
  // Cancelled if `stop` said so first.
  absl::StatusOr<FrameSocket> Accept(absl::Time deadline, const StopRequested& stop);

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_FRAME_SOCKET_H_
