#include "wire/shm_stream.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/error.hpp"
#include "boost/asio/post.hpp"

namespace canopy::wire {
namespace asio = boost::asio;

namespace {

absl::StatusOr<UniqueFd> NewEventFd() {
  UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) return absl::ResourceExhaustedError("eventfd: out of file descriptors");
  return fd;
}

absl::StatusOr<ShmDirection> CreateDirection(size_t capacity) {
  absl::StatusOr<ShmRing> ring = ShmRing::Create(capacity);
  if (!ring.ok()) return ring.status();
  absl::StatusOr<UniqueFd> data = NewEventFd();
  if (!data.ok()) return data.status();
  absl::StatusOr<UniqueFd> room = NewEventFd();
  if (!room.ok()) return room.status();
  return ShmDirection{*std::move(ring), *std::move(data), *std::move(room)};
}

// Wakes whoever waits on `fd` (an eventfd; a full counter is awake anyway).
void Signal(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(fd, &one, sizeof(one));
}

// Resets an eventfd after a wake-up.
void Drain(int fd) {
  uint64_t count;
  [[maybe_unused]] ssize_t ignored = ::read(fd, &count, sizeof(count));
}

}  // namespace

absl::StatusOr<ShmDirections> CreateShmDirections(size_t capacity) {
  absl::StatusOr<ShmDirection> to_node = CreateDirection(capacity);
  if (!to_node.ok()) return to_node.status();
  absl::StatusOr<ShmDirection> from_node = CreateDirection(capacity);
  if (!from_node.ok()) return from_node.status();
  return ShmDirections{*std::move(to_node), *std::move(from_node)};
}

std::shared_ptr<ShmStream> ShmStream::Create(Socket socket, ShmDirection in, ShmDirection out) {
  // Both sides hold their mappings; the memfds were handed over already.
  in.ring.CloseFd();
  out.ring.CloseFd();
  std::shared_ptr<ShmStream> stream(new ShmStream(std::move(socket), std::move(in), std::move(out)));
  stream->WatchPeer();
  return stream;
}

ShmStream::ShmStream(Socket socket, ShmDirection in, ShmDirection out)
    : socket_(std::move(socket)),
      in_(std::move(in.ring)),
      out_(std::move(out.ring)),
      in_data_(socket_.get_executor(), in.data.release()),
      in_room_(std::move(in.room)),
      out_data_(std::move(out.data)),
      out_room_(socket_.get_executor(), out.room.release()) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer_process_ = absl::StrCat("pid ", cred.pid);
  } else {
    peer_process_ = "pid unknown";
  }
}

ShmStream::~ShmStream() = default;

void ShmStream::WatchPeer() {
  // The peer never sends anything more: whatever completes this receive
  // (its end closing, an error, a stray byte) means it is gone.
  std::weak_ptr<ShmStream> weak = shared_from_this();
  socket_.async_receive(asio::buffer(&pulse_byte_, 1), pulse_flags_,
                        [weak](const boost::system::error_code&, size_t) {
                          std::shared_ptr<ShmStream> self = weak.lock();
                          if (self == nullptr || self->closed_) return;
                          self->peer_gone_ = true;
                          boost::system::error_code ignored;
                          self->in_data_.cancel(ignored);
                          self->out_room_.cancel(ignored);
                        });
}

void ShmStream::Complete(Completion& done, boost::system::error_code ec, size_t n) {
  // Never inside the initiating call: post, as a socket would complete.
  asio::post(socket_.get_executor(),
             [done = std::move(done), ec, n]() mutable { std::move(done)(ec, n); });
}

void ShmStream::Fail(absl::Status why) {
  if (error_.ok()) error_ = std::move(why);
}

void ShmStream::StartRead(std::vector<asio::mutable_buffer> parts, Completion done) {
  read_parts_ = std::move(parts);
  read_done_ = std::move(done);
  TryRead();
}

void ShmStream::TryRead() {
  for (;;) {
    if (closed_) return Complete(read_done_, asio::error::operation_aborted, 0);
    if (!error_.ok()) return Complete(read_done_, asio::error::fault, 0);
    size_t total = 0;
    bool wake = false;
    for (const asio::mutable_buffer& part : read_parts_) {
      bool woke = false;
      absl::StatusOr<size_t> n =
          in_.Read(absl::MakeSpan(static_cast<char*>(part.data()), part.size()), &woke);
      if (!n.ok()) {
        Fail(n.status());
        return Complete(read_done_, asio::error::fault, 0);
      }
      wake = wake || woke;
      total += *n;
      if (*n < part.size()) break;
    }
    if (wake) Signal(in_room_.get());
    if (total > 0 || read_parts_.empty() || asio::buffer_size(read_parts_) == 0) {
      return Complete(read_done_, {}, total);
    }
    if (in_.AtEnd()) return Complete(read_done_, asio::error::eof, 0);
    if (peer_gone_) return Complete(read_done_, asio::error::connection_reset, 0);
    if (!in_.PrepareToWaitForData()) continue;
    auto self = shared_from_this();
    in_data_.async_wait(Descriptor::wait_read, [self](const boost::system::error_code&) {
      Drain(self->in_data_.native_handle());
      self->TryRead();
    });
    return;
  }
}

void ShmStream::StartWrite(std::vector<asio::const_buffer> parts, Completion done) {
  write_parts_ = std::move(parts);
  write_done_ = std::move(done);
  TryWrite();
}

void ShmStream::TryWrite() {
  for (;;) {
    if (closed_) return Complete(write_done_, asio::error::operation_aborted, 0);
    if (write_shut_) return Complete(write_done_, asio::error::shut_down, 0);
    if (!error_.ok()) return Complete(write_done_, asio::error::fault, 0);
    if (peer_gone_) return Complete(write_done_, asio::error::broken_pipe, 0);
    bool wake = false;
    absl::StatusOr<size_t> n = out_.Write(write_parts_, 0, &wake);
    if (!n.ok()) {
      if (absl::IsFailedPrecondition(n.status())) {
        return Complete(write_done_, asio::error::broken_pipe, 0);
      }
      Fail(n.status());
      return Complete(write_done_, asio::error::fault, 0);
    }
    if (wake) Signal(out_data_.get());
    if (*n > 0 || asio::buffer_size(write_parts_) == 0) {
      return Complete(write_done_, {}, *n);
    }
    if (!out_.PrepareToWaitForRoom()) continue;
    auto self = shared_from_this();
    out_room_.async_wait(Descriptor::wait_read, [self](const boost::system::error_code&) {
      Drain(self->out_room_.native_handle());
      self->TryWrite();
    });
    return;
  }
}

void ShmStream::ShutdownWrite() {
  if (write_shut_ || closed_) return;
  write_shut_ = true;
  out_.CloseProducer();
  Signal(out_data_.get());
}

void ShmStream::Close() {
  if (closed_) return;
  closed_ = true;
  // As closing a TCP socket does: the peer reads what was written, then a
  // clean end (only a process that dies leaves its peer a reset).
  if (!write_shut_) {
    write_shut_ = true;
    out_.CloseProducer();
  }
  in_.CloseConsumer();
  Signal(in_room_.get());
  Signal(out_data_.get());
  boost::system::error_code ignored;
  in_data_.cancel(ignored);
  out_room_.cancel(ignored);
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace canopy::wire
