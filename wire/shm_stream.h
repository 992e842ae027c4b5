#ifndef CANOPY_WIRE_SHM_STREAM_H_
#define CANOPY_WIRE_SHM_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/async_result.hpp"
#include "boost/asio/buffer.hpp"
#include "boost/asio/generic/seq_packet_protocol.hpp"
#include "boost/asio/posix/stream_descriptor.hpp"
#include "boost/system/error_code.hpp"
#include "wire/shm_ring.h"
#include "wire/unique_fd.h"

namespace canopy::wire {

// One direction of a local link: the ring and the two eventfds its
// consumer waits on for bytes (`data`) and its producer for room (`room`).
struct ShmDirection {
  ShmRing ring;
  UniqueFd data;
  UniqueFd room;
};

// The two directions of a local link as its node creates them.
struct ShmDirections {
  ShmDirection to_node;
  ShmDirection from_node;
};

// Creates both directions of a local link: sealed memfd rings of
// `capacity` bytes each and non-blocking eventfds. ResourceExhausted /
// InvalidArgument as ShmRing::Create.
absl::StatusOr<ShmDirections> CreateShmDirections(size_t capacity);

// A byte stream over two shared-memory rings (one each way) for Asio's
// async_read / async_write, as a socket would be: reads and writes copy
// into and out of the rings, and a side sleeps on an eventfd only when it
// has nothing to do, so a busy link makes no system calls. The Unix
// socket the rings came over stays open as the peer's pulse: when the
// peer process ends — however — it closes, and a reader gets what is left
// in the ring and then connection_reset (eof after the peer's
// ShutdownWrite). A corrupt ring ends reads and writes with
// protocol_error (error() says what was wrong).
//
// Thread-compatible: every method and every handler runs on the executor
// of `socket`; one read and one write may be in flight at once.
class ShmStream : public std::enable_shared_from_this<ShmStream> {
 public:
  using executor_type = boost::asio::any_io_executor;
  // A connected AF_UNIX SOCK_SEQPACKET socket.
  using Socket = boost::asio::generic::seq_packet_protocol::socket;

  // `in` is the direction this side consumes, `out` the one it produces.
  static std::shared_ptr<ShmStream> Create(Socket socket, ShmDirection in, ShmDirection out);
  ShmStream(const ShmStream&) = delete;
  ShmStream& operator=(const ShmStream&) = delete;
  ~ShmStream();

  executor_type get_executor() { return socket_.get_executor(); }

  template <typename MutableBufferSequence, typename Handler>
  auto async_read_some(const MutableBufferSequence& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::system::error_code, size_t)>(
        [self = shared_from_this()](auto h, const MutableBufferSequence& b) {
          std::vector<boost::asio::mutable_buffer> parts;
          for (auto it = boost::asio::buffer_sequence_begin(b);
               it != boost::asio::buffer_sequence_end(b); ++it) {
            parts.emplace_back(*it);
          }
          self->StartRead(std::move(parts), std::move(h));
        },
        handler, buffers);
  }

  template <typename ConstBufferSequence, typename Handler>
  auto async_write_some(const ConstBufferSequence& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::system::error_code, size_t)>(
        [self = shared_from_this()](auto h, const ConstBufferSequence& b) {
          std::vector<boost::asio::const_buffer> parts;
          for (auto it = boost::asio::buffer_sequence_begin(b);
               it != boost::asio::buffer_sequence_end(b); ++it) {
            parts.emplace_back(*it);
          }
          self->StartWrite(std::move(parts), std::move(h));
        },
        handler, buffers);
  }

  // Ends this side's writing: the peer reads eof after what was written.
  void ShutdownWrite();
  // Ends both directions now; operations in flight end with
  // operation_aborted. The peer reads what was written and then eof, as
  // after a TCP close; its writes fail with broken_pipe. Idempotent.
  void Close();

  // What made the stream fail (a corrupt ring), or OK.
  const absl::Status& error() const { return error_; }
  // "pid N" of the peer process (from the Unix socket's credentials).
  const std::string& peer_process() const { return peer_process_; }

 private:
  using Completion = absl::AnyInvocable<void(boost::system::error_code, size_t)>;
  using Descriptor = boost::asio::posix::stream_descriptor;

  ShmStream(Socket socket, ShmDirection in, ShmDirection out);
  void WatchPeer();
  void StartRead(std::vector<boost::asio::mutable_buffer> parts, Completion done);
  void StartWrite(std::vector<boost::asio::const_buffer> parts, Completion done);
  // One attempt of the pending read (write); waits on its eventfd when
  // there is nothing to do.
  void TryRead();
  void TryWrite();
  void Complete(Completion& done, boost::system::error_code ec, size_t n);
  void Fail(absl::Status why);

  Socket socket_;
  ShmRing in_;
  ShmRing out_;
  Descriptor in_data_;  // waited on
  UniqueFd in_room_;    // signalled
  UniqueFd out_data_;   // signalled
  Descriptor out_room_;  // waited on
  std::string peer_process_;
  absl::Status error_;
  bool peer_gone_ = false;
  bool closed_ = false;
  bool write_shut_ = false;
  uint8_t pulse_byte_ = 0;
  boost::asio::socket_base::message_flags pulse_flags_ = 0;

  std::vector<boost::asio::mutable_buffer> read_parts_;
  Completion read_done_;
  std::vector<boost::asio::const_buffer> write_parts_;
  Completion write_done_;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_SHM_STREAM_H_
