#include "wire/connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/read.hpp"
#include "boost/asio/ssl/error.hpp"
#include "boost/asio/write.hpp"
#include "wire/string_resize.h"

namespace canopy::wire {
namespace asio = boost::asio;

namespace {

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::shared_ptr<Connection> Connection::Adopt(Socket socket) {
  return std::shared_ptr<Connection>(new Connection(std::move(socket)));
}

std::shared_ptr<Connection> Connection::AdoptLocal(std::shared_ptr<ShmStream> stream) {
  std::shared_ptr<Connection> c(new Connection(Socket(stream->get_executor())));
  c->remote_ = absl::StrCat("local ", stream->peer_process());
  c->shm_ = std::move(stream);
  return c;
}

Connection::~Connection() {
  // A local link's stream may wait on its eventfds: end that.
  if (shm_ != nullptr) shm_->Close();
}

Connection::Connection(Socket socket) : socket_(std::move(socket)) {
  if (!socket_.is_open()) return;  // a local link's (AdoptLocal)
  boost::system::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  const asio::ip::tcp::endpoint ep = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : absl::StrCat(ep.address().to_string(), ":", ep.port());
}

template <typename Op>
void Connection::OnStream(Op&& op) {
  if (shm_) {
    op(*shm_);
  } else if (tls_) {
    op(*tls_);
  } else {
    op(socket_);
  }
}

void Connection::Handshake(std::shared_ptr<TlsContext> context, TlsRole role,
                           std::string verify_host, std::chrono::milliseconds timeout,
                           std::function<void(absl::Status)> done) {
  tls_ = std::make_unique<TlsStream>(socket_, context->asio());
  SSL* ssl = tls_->native_handle();
  SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
  if (role == TlsRole::kConnect && !verify_host.empty()) {
    // The node's certificate must name the host the client dialed.
    const bool ip = IsIpLiteral(verify_host);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host.c_str())
                      : SSL_set1_host(ssl, verify_host.c_str());
    if (ok != 1) {
      return done(absl::InvalidArgumentError(
          absl::StrCat("TLS: cannot verify the host name '", verify_host, "'")));
    }
    if (!ip) SSL_set_tlsext_host_name(ssl, verify_host.c_str());
  }
  auto self = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(), timeout);
  auto finished = std::make_shared<bool>(false);
  timer->async_wait([self, finished](const boost::system::error_code& ec) {
    if (ec || *finished) return;
    self->Close();  // the handshake ends with an error
  });
  tls_->async_handshake(
      role == TlsRole::kConnect ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      [self, timer, finished, done = std::move(done)](const boost::system::error_code& ec) {
        *finished = true;
        timer->cancel();
        if (ec) {
          long verify = SSL_get_verify_result(self->tls_->native_handle());
          std::string why = absl::StrCat("TLS handshake failed: ", self->Describe(ec));
          if (verify != X509_V_OK) {
            absl::StrAppend(&why, " (", X509_verify_cert_error_string(verify), ")");
          }
          return done(absl::UnauthenticatedError(why));
        }
        absl::StatusOr<PeerCertificate> peer = PeerCertificateOf(self->tls_->native_handle());
        if (!peer.ok()) return done(absl::UnauthenticatedError(peer.status().message()));
        self->peer_ = *std::move(peer);
        done(absl::OkStatus());
      });
}

std::string Connection::Describe(const boost::system::error_code& ec) const {
  if (shm_ != nullptr && !shm_->error().ok()) return std::string(shm_->error().message());
  return ec.message();
}

std::string Connection::security() const {
  if (shm_) return "shared memory";
  return tls_ ? SessionDescription(tls_->native_handle()) : "plaintext";
}

void Connection::PeekFirstByte(std::function<void(absl::StatusOr<uint8_t>)> done) {
  auto self = shared_from_this();
  socket_.async_receive(
      asio::buffer(&first_byte_, 1), asio::socket_base::message_peek,
      [self, done = std::move(done)](const boost::system::error_code& ec, size_t n) {
        if (ec || n != 1) {
          return done(absl::UnavailableError(
              absl::StrCat("read from ", self->remote_, ": ", ec ? self->Describe(ec) : "closed")));
        }
        done(self->first_byte_);
      });
}

void Connection::ReadHeader(uint32_t max_payload, std::function<void(FrameHeader)> then,
                            std::function<void(absl::Status)> fail) {
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_read(
        stream, asio::buffer(header_),
        [self, max_payload, then = std::move(then), fail = std::move(fail)](
            const boost::system::error_code& ec, size_t n) {
          if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            return fail(n == 0 ? absl::OutOfRangeError("the peer closed the link")
                               : absl::UnavailableError("the peer closed the link inside a frame"));
          }
          if (ec) {
            return fail(absl::UnavailableError(
                absl::StrCat("read from ", self->remote_, ": ", self->Describe(ec))));
          }
          absl::StatusOr<FrameHeader> h = DecodeHeader(
              absl::string_view(self->header_.data(), self->header_.size()), max_payload);
          if (!h.ok()) return fail(h.status());
          then(*h);
        });
  });
}

void Connection::ReadFrame(uint32_t max_payload,
                           std::function<void(absl::StatusOr<FrameBuffer>, FrameHeader)> done) {
  auto self = shared_from_this();
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  ReadHeader(
      max_payload,
      [self, shared_done](FrameHeader header) {
        auto bytes = std::make_shared<FrameBuffer>(kHeaderSize + header.length);
        std::copy(self->header_.begin(), self->header_.end(), bytes->data());
        self->OnStream([&](auto& stream) {
          asio::async_read(
              stream, asio::buffer(bytes->data() + kHeaderSize, bytes->size() - kHeaderSize),
              [self, bytes, header, shared_done](const boost::system::error_code& ec, size_t) {
                if (ec) {
                  return (*shared_done)(
                      absl::UnavailableError(absl::StrCat("read from ", self->remote_,
                                                          ": the peer closed the link inside a "
                                                          "frame (",
                                                          self->Describe(ec), ")")),
                      header);
                }
                (*shared_done)(std::move(*bytes), header);
              });
        });
      },
      [shared_done](absl::Status why) { (*shared_done)(std::move(why), FrameHeader{}); });
}

void Connection::ReadFrameInto(std::string* payload, uint32_t max_payload,
                               std::function<void(absl::StatusOr<FrameHeader>)> done) {
  auto self = shared_from_this();
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  ReadHeader(
      max_payload,
      [self, payload, shared_done](FrameHeader header) {
        ResizeForOverwrite(*payload, header.length);
        self->OnStream([&](auto& stream) {
          asio::async_read(
              stream, asio::buffer(payload->data(), payload->size()),
              [self, payload, header, shared_done](const boost::system::error_code& ec, size_t) {
                if (ec) {
                  return (*shared_done)(absl::UnavailableError(absl::StrCat(
                      "read from ", self->remote_, ": the peer closed the link inside a frame (",
                      self->Describe(ec), ")")));
                }
                const absl::string_view header_view(self->header_.data(), self->header_.size());
                if (FrameChecksum(header_view, *payload) != header.checksum) {
                  return (*shared_done)(
                      absl::DataLossError(absl::StrCat("frame checksum mismatch (sequence ",
                                                       header.sequence, ") from ", self->remote_)));
                }
                (*shared_done)(header);
              });
        });
      },
      [shared_done](absl::Status why) { (*shared_done)(std::move(why)); });
}

void Connection::Write(std::vector<asio::const_buffer> buffers, std::shared_ptr<const void> keep,
                       std::function<void(absl::Status)> done) {
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_write(stream, buffers,
                      [self, keep = std::move(keep), done = std::move(done)](
                          const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          return done(absl::UnavailableError(
                              absl::StrCat("write to ", self->remote_, ": ", self->Describe(ec))));
                        }
                        done(absl::OkStatus());
                      });
  });
}

void Connection::ShutdownWrite() {
  if (shm_) return shm_->ShutdownWrite();
  if (tls_) {
    // close_notify; the peer answers with its own when it closes, which
    // ends the shutdown (its result does not matter).
    auto self = shared_from_this();
    tls_->async_shutdown([self](const boost::system::error_code&) {});
    return;
  }
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
}

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  if (shm_) return shm_->Close();
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace canopy::wire
