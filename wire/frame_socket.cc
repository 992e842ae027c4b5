#include "wire/frame_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "wire/string_resize.h"

namespace canopy::wire {
namespace {

// Longest wait between two looks at `stop`.
constexpr int kTickMs = 100;
// At most this many parts go into one writev.
constexpr size_t kMaxIov = 64;
// With TLS, parts smaller than this are gathered into records of up to
// this size (a TLS record holds at most 16 KiB); larger parts are
// encrypted from where they are.
constexpr size_t kTlsGatherBytes = 16 << 10;
// With TLS, records go to the socket in batches of about this many bytes,
// and reads from the socket take up to this many bytes: one system call
// per batch instead of one (or two) per 16 KiB record.
constexpr size_t kTlsBatchBytes = 256 << 10;
// Most bytes handed to one SSL_read (it takes an int).
constexpr size_t kMaxTlsRead = 1 << 30;

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

bool IsIpAddress(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

// One TLS session over the socket. Reader and writer threads take turns
// for each SSL call; they wait for the socket without the lock.
//
// OpenSSL reads and writes through two BIOs of this session rather than
// the socket itself: records it writes collect in `out` and go to the
// socket in batches (Flush), and reads from the socket fill `in` with as
// much as has arrived, from which it takes record after record.
struct FrameSocket::Tls {
  // The outcome of one SSL call.
  struct Result {
    int value = 0;               // what the call returned
    int error = SSL_ERROR_NONE;  // SSL_get_error() for value <= 0
    int sys_errno = 0;           // errno for SSL_ERROR_SYSCALL
    std::string why;             // OpenSSL's reasons for SSL_ERROR_SSL / SYSCALL
    size_t output_pending = 0;   // bytes of records in `out` after the call
  };

  Tls(SSL* s, int socket) : ssl(s), fd(socket), in(new char[kTlsBatchBytes]) {}
  ~Tls() { SSL_free(ssl); }

  // Runs `call(ssl)` under the lock and collects what went wrong.
  template <typename Call>
  Result Run(Call call) {
    absl::MutexLock lock(&mu);
    ERR_clear_error();
    errno = 0;
    Result r;
    r.value = call(ssl);
    r.output_pending = out.size() - out_sent;
    if (r.value > 0) return r;
    r.error = SSL_get_error(ssl, r.value);
    r.sys_errno = errno;
    if (r.error == SSL_ERROR_SSL || r.error == SSL_ERROR_SYSCALL) {
      r.why = TakeOpenSslErrors(r.sys_errno != 0 ? ErrnoText(r.sys_errno)
                                                 : "connection closed mid-record");
    }
    return r;
  }

  // The read BIO: copies up to `len` bytes of `in` to `dst`, refilling
  // `in` with one recv() when it is empty. Returns the bytes copied, 0 at
  // the end of the stream, kRetry when nothing has arrived, -1 on an error
  // (errno set). Called by OpenSSL inside Run().
  static constexpr int kRetry = -2;
  int Read(char* dst, int len) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (in_pos == in_len) {
      ssize_t n;
      do {
        n = recv(fd, in.get(), kTlsBatchBytes, 0);
      } while (n < 0 && errno == EINTR);
      if (n == 0) return 0;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? kRetry : -1;
      in_pos = 0;
      in_len = static_cast<size_t>(n);
    }
    const size_t k = std::min(static_cast<size_t>(len), in_len - in_pos);
    std::memcpy(dst, in.get() + in_pos, k);
    in_pos += k;
    return static_cast<int>(k);
  }
  // The write BIO: keeps the records OpenSSL writes for Flush. Called by
  // OpenSSL inside Run().
  void Write(const char* data, int len) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    out.append(data, static_cast<size_t>(len));
  }

  absl::Mutex mu;
  SSL* const ssl ABSL_PT_GUARDED_BY(mu);
  const int fd;
  // Bytes read from the socket and not yet taken by OpenSSL: [in_pos, in_len).
  const std::unique_ptr<char[]> in ABSL_PT_GUARDED_BY(mu);
  size_t in_pos ABSL_GUARDED_BY(mu) = 0;
  size_t in_len ABSL_GUARDED_BY(mu) = 0;
  // Records not yet sent: [out_sent, out.size()).
  std::string out ABSL_GUARDED_BY(mu);
  size_t out_sent ABSL_GUARDED_BY(mu) = 0;
  // Set once by StartTls, read-only afterwards.
  PeerCertificate peer;
  std::string description;
};

namespace {

FrameSocket::Tls* SessionOf(BIO* b) { return static_cast<FrameSocket::Tls*>(BIO_get_data(b)); }

// The BIO type through which OpenSSL reaches a FrameSocket::Tls.
const BIO_METHOD* SessionBioMethod() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "canopy frame socket");
    BIO_meth_set_read(m, [](BIO* b, char* dst, int len) -> int {
      BIO_clear_retry_flags(b);
      const int n = SessionOf(b)->Read(dst, len);
      if (n == FrameSocket::Tls::kRetry) {
        BIO_set_retry_read(b);
        return -1;
      }
      return n;
    });
    BIO_meth_set_write(m, [](BIO* b, const char* data, int len) -> int {
      BIO_clear_retry_flags(b);
      SessionOf(b)->Write(data, len);
      return len;
    });
    BIO_meth_set_ctrl(
        m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
    BIO_meth_set_create(m, [](BIO* b) -> int {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

}  // namespace

FrameSocket::FrameSocket() = default;

FrameSocket::FrameSocket(int fd) : fd_(fd) {
  MakeNonBlocking(fd_);
  SetNoDelay(fd_);
}

FrameSocket::FrameSocket(FrameSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), tls_(std::move(other.tls_)) {}

FrameSocket& FrameSocket::operator=(FrameSocket&& other) noexcept {
  if (this != &other) {
    tls_.reset();
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    tls_ = std::move(other.tls_);
  }
  return *this;
}

FrameSocket::~FrameSocket() {
  tls_.reset();
  if (fd_ >= 0) close(fd_);
}

absl::Status FrameSocket::StartTls(TlsContext& context, TlsRole role, absl::string_view verify_host,
                                   const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  if (tls_) return absl::FailedPreconditionError("TLS is already on");
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) {
    return absl::InternalError(absl::StrCat("TLS: ", TakeOpenSslErrors("SSL_new failed")));
  }
  tls_ = std::make_unique<Tls>(ssl, fd_);
  const std::string with = peer();
  {
    absl::MutexLock lock(&tls_->mu);
    BIO* bio = BIO_new(SessionBioMethod());
    if (bio == nullptr) return absl::InternalError("TLS: cannot make a BIO");
    BIO_set_data(bio, tls_.get());
    SSL_set_bio(ssl, bio, bio);  // the SSL owns it (one reference for both uses)
    if (role == TlsRole::kConnect) {
      SSL_set_connect_state(ssl);
      std::string host(verify_host);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      if (!host.empty()) {
        const int ok = IsIpAddress(host)
                           ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
                           : SSL_set1_host(ssl, host.c_str());
        if (ok != 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("TLS: cannot verify the host name '", host, "'"));
        }
      }
    } else {
      SSL_set_accept_state(ssl);
    }
  }
  while (true) {
    Tls::Result r = tls_->Run([](SSL* s) { return SSL_do_handshake(s); });
    if (r.output_pending) {
      // What the handshake wrote (or the alert saying why it failed).
      if (absl::Status s = FlushTls(stop); !s.ok() && r.value == 1) return s;
    }
    if (r.value == 1) break;
    if (r.error == SSL_ERROR_WANT_READ || r.error == SSL_ERROR_WANT_WRITE) {
      if (absl::Status s = Await(r.error == SSL_ERROR_WANT_WRITE, stop); !s.ok()) return s;
      continue;
    }
    long verify = X509_V_OK;
    {
      absl::MutexLock lock(&tls_->mu);
      verify = SSL_get_verify_result(ssl);
    }
    std::string why = r.why.empty() ? "the peer closed the connection" : r.why;
    if (verify != X509_V_OK)
      absl::StrAppend(&why, " (", X509_verify_cert_error_string(verify), ")");
    return absl::UnauthenticatedError(absl::StrCat("TLS handshake with ", with, " failed: ", why));
  }
  absl::MutexLock lock(&tls_->mu);
  absl::StatusOr<PeerCertificate> peer_cert = PeerCertificateOf(ssl);
  if (!peer_cert.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("TLS with ", with, ": ", peer_cert.status().message()));
  }
  tls_->peer = *std::move(peer_cert);
  tls_->description = SessionDescription(ssl);
  return absl::OkStatus();
}

bool FrameSocket::tls() const { return tls_ != nullptr && !tls_->description.empty(); }

const PeerCertificate* FrameSocket::peer_certificate() const {
  return tls() ? &tls_->peer : nullptr;
}

std::string FrameSocket::security() const { return tls() ? tls_->description : "plaintext"; }

absl::StatusOr<uint8_t> FrameSocket::PeekFirstByte(const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  while (true) {
    uint8_t byte = 0;
    const ssize_t r = recv(fd_, &byte, 1, MSG_PEEK);
    if (r == 1) return byte;
    if (r == 0) return absl::OutOfRangeError("the peer closed the connection without a word");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat("read from ", peer(), ": ", ErrnoText(errno)));
    }
    if (absl::Status s = Await(/*for_write=*/false, stop); !s.ok()) return s;
  }
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

absl::Status FrameSocket::FlushTls(const StopRequested& stop) {
  while (true) {
    {
      absl::MutexLock lock(&tls_->mu);
      while (tls_->out_sent < tls_->out.size()) {
        const ssize_t n = send(fd_, tls_->out.data() + tls_->out_sent,
                               tls_->out.size() - tls_->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
          tls_->out_sent += static_cast<size_t>(n);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        } else if (errno != EINTR) {
          return absl::UnavailableError(absl::StrCat("write to ", peer(), ": ", ErrnoText(errno)));
        }
      }
      if (tls_->out_sent == tls_->out.size()) {
        tls_->out.clear();  // keeps its capacity for the next batch
        tls_->out_sent = 0;
        return absl::OkStatus();
      }
    }
    if (absl::Status s = Await(/*for_write=*/true, stop); !s.ok()) return s;
  }
}

absl::Status FrameSocket::WriteAllTls(absl::string_view bytes, const StopRequested& stop) {
  // Encrypted a batch at a time; a full batch of records goes out with one
  // system call (the rest with the next batch or at the end of Write()).
  while (!bytes.empty()) {
    const int n = static_cast<int>(std::min(bytes.size(), kTlsBatchBytes));
    Tls::Result r = tls_->Run([&](SSL* s) { return SSL_write(s, bytes.data(), n); });
    if (r.value <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "write to ", peer(), ": TLS: ", r.why.empty() ? "the session ended" : r.why));
    }
    bytes.remove_prefix(static_cast<size_t>(r.value));
    if (r.output_pending >= kTlsBatchBytes) {
      if (absl::Status s = FlushTls(stop); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status FrameSocket::WriteTls(absl::Span<const absl::string_view> parts,
                                   const StopRequested& stop) {
  std::string gathered;
  auto flush = [&]() -> absl::Status {
    if (gathered.empty()) return absl::OkStatus();
    absl::Status s = WriteAllTls(gathered, stop);
    gathered.clear();
    return s;
  };
  for (absl::string_view part : parts) {
    if (part.size() >= kTlsGatherBytes) {
      if (absl::Status s = flush(); !s.ok()) return s;
      if (absl::Status s = WriteAllTls(part, stop); !s.ok()) return s;
      continue;
    }
    if (gathered.size() + part.size() > kTlsGatherBytes) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
    if (gathered.empty()) gathered.reserve(kTlsGatherBytes);
    gathered.append(part.data(), part.size());
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return FlushTls(stop);
}

absl::Status FrameSocket::Write(absl::Span<const absl::string_view> parts,
                                const StopRequested& stop) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket is closed");
  if (tls_) return WriteTls(parts, stop);
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
  while (got < n && tls_) {
    const int want = static_cast<int>(std::min(n - got, kMaxTlsRead));
    Tls::Result r = tls_->Run([&](SSL* s) { return SSL_read(s, out + got, want); });
    if (r.output_pending) {
      // Reading made the session answer (e.g. a key update): send that.
      if (absl::Status s = FlushTls(stop); !s.ok()) return s;
    }
    if (r.value > 0) {
      got += static_cast<size_t>(r.value);
      continue;
    }
    if (r.error == SSL_ERROR_WANT_READ || r.error == SSL_ERROR_WANT_WRITE) {
      if (absl::Status s = Await(r.error == SSL_ERROR_WANT_WRITE, stop); !s.ok()) return s;
      continue;
    }
    if (r.error == SSL_ERROR_ZERO_RETURN) {
      if (at_frame_start && got == 0) return absl::OutOfRangeError("end of stream");
      return absl::UnavailableError(
          absl::StrCat("connection from ", peer(), " ended inside a frame"));
    }
    return absl::UnavailableError(absl::StrCat("read from ", peer(), ": TLS: ", r.why));
  }
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
  if (fd_ < 0) return;
  if (tls_) {
    // close_notify first, so the peer can tell the end from a cut; given
    // up on after a second of a full socket.
    tls_->Run([](SSL* s) { return SSL_shutdown(s); });
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    FlushTls([deadline] { return absl::Now() > deadline; }).IgnoreError();
  }
  shutdown(fd_, SHUT_WR);
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
