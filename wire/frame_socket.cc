#include "wire/frame_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "wire/string_resize.h"

namespace canopy::wire {
namespace {

// Longest wait between two looks at `stop`.
constexpr int kTickMs = 100;
// At most this many parts go into one writev.
constexpr size_t kMaxIov = 64;

std::string ErrnoText(int err) { return std::strerror(err); }

void MakeNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

std::string AddressText(const sockaddr_storage& ss) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&ss), sizeof(ss), host, sizeof(host), port,
                  sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "unknown";
  }
  return ss.ss_family == AF_INET6 ? absl::StrCat("[", host, "]:", port)
                                  : absl::StrCat(host, ":", port);
}

// Waits for `events` on `fd` for at most one tick; returns false on a
// poll error other than EINTR.
bool PollTick(int fd, short events, int timeout_ms = kTickMs) {
  pollfd p{fd, events, 0};
  const int r = poll(&p, 1, timeout_ms);
  return r >= 0 || errno == EINTR;
}

}  // namespace

FrameSocket::FrameSocket(int fd) : fd_(fd) {
  MakeNonBlocking(fd_);
  SetNoDelay(fd_);
}

FrameSocket::FrameSocket(FrameSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FrameSocket& FrameSocket::operator=(FrameSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FrameSocket::~FrameSocket() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<FrameSocket> FrameSocket::Connect(const Endpoint& to, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(to.port);
  if (int rc = getaddrinfo(to.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", to.ToString(), ": ", gai_strerror(rc)));
  }
  absl::Cleanup free_found = [found] { freeaddrinfo(found); };
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    FrameSocket s(fd);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) return s;
    if (errno != EINPROGRESS) {
      last_error = ErrnoText(errno);
      continue;
    }
    while (true) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        last_error = "timed out";
        break;
      }
      pollfd p{fd, POLLOUT, 0};
      const int r =
          poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left / absl::Milliseconds(1))));
      if (r < 0 && errno != EINTR) {
        last_error = ErrnoText(errno);
        break;
      }
      if (r <= 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) return s;
      last_error = ErrnoText(err);
      break;
    }
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to ", to.ToString(), ": ", last_error));
}

absl::Status FrameSocket::Await(bool for_write, const StopRequested& stop) {
  while (true) {
    if (stop && stop()) return absl::CancelledError("stopped");
    pollfd p{fd_, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int r = poll(&p, 1, kTickMs);
    if (r < 0 && errno != EINTR) return absl::UnavailableError(ErrnoText(errno));
    if (r > 0) return absl::OkStatus();
  }
}

absl::Status FrameSocket::Write(absl::Span<const absl::string_view> parts,
                                const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  std::array<iovec, kMaxIov> iov;
  size_t first = 0;   // first part not fully written
  size_t offset = 0;  // bytes of parts[first] already written
  while (first < parts.size()) {
    size_t n = 0;
    for (size_t i = first; i < parts.size() && n < kMaxIov; ++i) {
      const size_t skip = i == first ? offset : 0;
      iov[n].iov_base = const_cast<char*>(parts[i].data() + skip);
      iov[n].iov_len = parts[i].size() - skip;
      ++n;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const ssize_t wrote = sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (absl::Status s = Await(/*for_write=*/true, stop); !s.ok()) return s;
        continue;
      }
      return absl::UnavailableError(absl::StrCat("write to ", peer(), ": ", ErrnoText(errno)));
    }
    size_t left = static_cast<size_t>(wrote);
    while (left > 0 && first < parts.size()) {
      const size_t rest = parts[first].size() - offset;
      if (left >= rest) {
        left -= rest;
        ++first;
        offset = 0;
      } else {
        offset += left;
        left = 0;
      }
    }
    while (first < parts.size() && parts[first].size() == offset) {
      ++first;
      offset = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status FrameSocket::ReadExactly(char* out, size_t n, bool at_frame_start,
                                      const StopRequested& stop) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = recv(fd_, out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      if (at_frame_start && got == 0) return absl::OutOfRangeError("end of stream");
      return absl::UnavailableError(
          absl::StrCat("connection from ", peer(), " ended inside a frame"));
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (absl::Status s = Await(/*for_write=*/false, stop); !s.ok()) return s;
      continue;
    }
    return absl::UnavailableError(absl::StrCat("read from ", peer(), ": ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<FrameBuffer> FrameSocket::Read(uint32_t max_payload, const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  std::array<char, kHeaderSize> header;
  if (absl::Status s = ReadExactly(header.data(), kHeaderSize, true, stop); !s.ok()) return s;
  absl::StatusOr<FrameHeader> h =
      DecodeHeader(absl::string_view(header.data(), header.size()), max_payload);
  if (!h.ok()) return h.status();
  FrameBuffer bytes(kHeaderSize + h->length);
  std::memcpy(bytes.data(), header.data(), kHeaderSize);
  if (absl::Status s = ReadExactly(bytes.data() + kHeaderSize, h->length, false, stop); !s.ok()) {
    return s;
  }
  return bytes;
}

absl::StatusOr<FrameHeader> FrameSocket::ReadInto(std::string& payload, uint32_t max_payload,
                                                  const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  std::array<char, kHeaderSize> header;
  if (absl::Status s = ReadExactly(header.data(), kHeaderSize, true, stop); !s.ok()) return s;
  const absl::string_view header_view(header.data(), header.size());
  absl::StatusOr<FrameHeader> h = DecodeHeader(header_view, max_payload);
  if (!h.ok()) return h.status();
  ResizeForOverwrite(payload, h->length);
  if (absl::Status s = ReadExactly(payload.data(), h->length, false, stop); !s.ok()) return s;
  if (FrameChecksum(header_view, payload) != h->checksum) {
    return absl::DataLossError(
        absl::StrCat("frame checksum mismatch (sequence ", h->sequence, ") from ", peer()));
  }
  return h;
}

void FrameSocket::ShutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

void FrameSocket::Shutdown() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

std::string FrameSocket::peer() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd_ < 0 || getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  return AddressText(ss);
}

FrameSocketListener::FrameSocketListener(FrameSocketListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

FrameSocketListener& FrameSocketListener::operator=(FrameSocketListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

FrameSocketListener::~FrameSocketListener() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<FrameSocketListener> FrameSocketListener::Open(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), "0", &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  absl::Cleanup free_found = [found] { freeaddrinfo(found); };
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    FrameSocketListener l;
    l.fd_ = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l.fd_ < 0 || bind(l.fd_, a->ai_addr, a->ai_addrlen) != 0 || listen(l.fd_, 16) != 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    getsockname(l.fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
    l.port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return l;
  }
  return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ": ", last_error));
}

absl::StatusOr<FrameSocket> FrameSocketListener::Accept(absl::Time deadline,
                                                        const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("listener is closed");
  while (true) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return FrameSocket(fd);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
      return absl::UnavailableError(absl::StrCat("accept: ", ErrnoText(errno)));
    }
    if (stop && stop()) return absl::CancelledError("stopped");
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("no connection arrived in time");
    }
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>(left / absl::Milliseconds(1), 1, kTickMs));
    if (!PollTick(fd_, POLLIN, wait_ms)) {
      return absl::UnavailableError(absl::StrCat("poll: ", ErrnoText(errno)));
    }
  }
}

}  // namespace canopy::wire
