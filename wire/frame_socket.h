#ifndef CANOPY_WIRE_FRAME_SOCKET_H_
#define CANOPY_WIRE_FRAME_SOCKET_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "wire/endpoint.h"
#include "wire/frame.h"

namespace canopy::wire {

// Asked while a call waits for the socket; returning true abandons the call
// with Cancelled. Null means "never give up".
using StopRequested = std::function<bool()>;

// One TCP connection carrying frames, driven by the calling thread: every
// call blocks until done, the peer fails, or `stop` says to give up (asked
// at least every 100 ms while waiting). Used between a client and its
// local node, where a dedicated thread per connection is the simplest and
// fastest shape: header and payload go out with one gathered write and
// come in straight into the frame's own buffer.
//
// Move-only. Thread-compatible, except Shutdown(), which any thread may
// call to wake a blocked call (it then fails).
class FrameSocket {
 public:
  FrameSocket() = default;
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
  // already written.
  void ShutdownWrite();
  // Ends both directions; blocked calls on other threads fail. Thread-safe.
  void Shutdown();

  bool valid() const { return fd_ >= 0; }
  // "ip:port" of the peer.
  std::string peer() const;

 private:
  // Waits until the socket is readable (or writable); Cancelled if `stop`
  // said so first.
  absl::Status Await(bool for_write, const StopRequested& stop);
  absl::Status ReadExactly(char* out, size_t n, bool at_frame_start, const StopRequested& stop);

  int fd_ = -1;
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
