#include "wire/inbound_link.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/ssl/error.hpp"
#include "boost/asio/write.hpp"
#include "spdlog/spdlog.h"
#include "wire/control_frames.h"

namespace canopy::wire {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Longest node id a HELLO may carry.
constexpr size_t kMaxHelloBytes = 256;
}  // namespace

InboundLink::InboundLink(tcp::socket socket, uint32_t max_payload, FrameHandler on_frame,
                         ClosedCallback on_closed, LinkTls tls)
    : socket_(std::move(socket)),
      tls_options_(std::move(tls)),
      max_payload_(max_payload),
      on_frame_(std::move(on_frame)),
      on_closed_(std::move(on_closed)) {
  boost::system::error_code ec;
  tcp::endpoint ep = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : absl::StrCat(ep.address().to_string(), ":", ep.port());
}

void InboundLink::Start() {
  auto self = shared_from_this();
  hello_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  hello_timer_->expires_after(kHelloTimeout);
  hello_timer_->async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->closed_ || !self->peer_node_.empty()) return;
    if (self->refusal_ == Refusal::kNone) self->refusal_ = Refusal::kNoHello;
    self->Finish(absl::DeadlineExceededError(
        absl::StrCat("no HELLO within ", kHelloTimeout.count(), " s of connecting")));
  });
  if (tls_options_.enabled()) return Handshake();
  ReadHeader();
}

template <typename Op>
void InboundLink::OnStream(Op&& op) {
  if (tls_) {
    op(*tls_);
  } else {
    op(socket_);
  }
}

void InboundLink::Handshake() {
  tls_ = std::make_unique<TlsStream>(socket_, tls_options_.context->asio());
  SSL_clear_mode(tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  auto self = shared_from_this();
  handshake_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  handshake_timer_->expires_after(kTlsHandshakeTimeout);
  handshake_timer_->async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->closed_ || !self->peer_certificate_.der.empty()) return;
    self->refusal_ = Refusal::kTlsHandshake;
    self->Finish(absl::DeadlineExceededError("TLS handshake timed out"));
  });
  // A frame starts with the magic number, a TLS connection with a handshake
  // record: name a plaintext peer as such.
  socket_.async_receive(asio::buffer(&first_byte_, 1), asio::socket_base::message_peek,
                        [self](const boost::system::error_code& ec, size_t n) {
                          if (self->closed_) return;
                          if (!ec && n == 1 && self->first_byte_ == (kMagic >> 8)) {
                            self->refusal_ = Refusal::kTlsHandshake;
                            return self->Finish(absl::UnauthenticatedError(
                                "a plaintext link, but this node takes data links only with TLS"));
                          }
                          self->SecureHandshake();
                        });
}

void InboundLink::SecureHandshake() {
  auto self = shared_from_this();
  tls_->async_handshake(
      asio::ssl::stream_base::server, [self](const boost::system::error_code& ec) {
        if (self->closed_) return;
        self->handshake_timer_->cancel();
        absl::StatusOr<PeerCertificate> peer =
            ec ? absl::UnauthenticatedError(absl::StrCat("TLS handshake failed: ", ec.message()))
               : PeerCertificateOf(self->tls_->native_handle());
        if (!peer.ok()) {
          self->refusal_ = Refusal::kTlsHandshake;
          return self->Finish(peer.status());
        }
        self->peer_certificate_ = *std::move(peer);
        self->ReadHeader();
      });
}

void InboundLink::Resume() {
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [self] {
    if (!self->paused_ || self->closed_) return;
    self->paused_ = false;
    if (!self->reading_) self->ReadHeader();
  });
}

void InboundLink::Close() { Finish(absl::OkStatus()); }

void InboundLink::ReadHeader() {
  if (closed_) return;
  reading_ = true;
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_read(
        stream, asio::buffer(header_), [self](const boost::system::error_code& ec, size_t) {
          if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            return self->Finish(absl::OkStatus());
          }
          if (ec) {
            return self->Finish(absl::UnavailableError(
                absl::StrCat("read from ", self->remote_, ": ", ec.message())));
          }
          const uint32_t limit =
              self->peer_node_.empty() ? static_cast<uint32_t>(kMaxHelloBytes) : self->max_payload_;
          absl::StatusOr<FrameHeader> h =
              DecodeHeader(absl::string_view(self->header_.data(), self->header_.size()), limit);
          if (!h.ok()) return self->Finish(h.status());
          FrameBuffer bytes(kHeaderSize + h->length);
          std::copy(self->header_.begin(), self->header_.end(), bytes.data());
          self->ReadPayload(std::move(bytes));
        });
  });
}

void InboundLink::ReadPayload(FrameBuffer bytes) {
  auto owned = std::make_shared<FrameBuffer>(std::move(bytes));
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_read(stream, asio::buffer(owned->data() + kHeaderSize, owned->size() - kHeaderSize),
                     [self, owned](const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         return self->Finish(absl::UnavailableError(absl::StrCat(
                             "read from ", self->remote_, ": truncated frame: ", ec.message())));
                       }
                       absl::StatusOr<FramePtr> frame =
                           Frame::Adopt(std::move(*owned), self->max_payload_);
                       if (!frame.ok()) return self->Finish(frame.status());
                       self->OnFrame(*std::move(frame));
                     });
  });
}

void InboundLink::OnFrame(FramePtr frame) {
  reading_ = false;
  const FrameHeader& h = frame->header();
  if (peer_node_.empty()) {
    if (h.type != FrameType::kHello || h.length == 0) {
      return Finish(absl::InvalidArgumentError(
          absl::StrCat("link from ", remote_, " did not start with HELLO")));
    }
    absl::StatusOr<Hello> hello = ParseHello(*frame);
    if (!hello.ok()) {
      return Finish(absl::InvalidArgumentError(
          absl::StrCat("link from ", remote_, ": ", hello.status().message())));
    }
    const absl::string_view id = hello->node_id;
    const bool probe = hello->probe;
    if (tls_) {
      if (absl::Status s = CheckPeerNode(peer_certificate_, tls_options_.peer_unit, id); !s.ok()) {
        refusal_ = Refusal::kIdentity;
        return Finish(absl::PermissionDeniedError(
            absl::StrCat("the peer announces node '", id, "'; refused: ", s.message())));
      }
      spdlog::info("{}link from {} ({}): {}", probe ? "probe " : "", std::string(id), remote_,
                   SessionDescription(tls_->native_handle()));
    }
    probe_ = probe;
    peer_token_ = hello->token;
    peer_node_ = hello->node_id;
    hello_timer_->cancel();
    on_frame_(std::move(frame), *this);
  } else if (h.type == FrameType::kHello) {
    return Finish(
        absl::InvalidArgumentError(absl::StrCat("link from ", peer_node_, " sent a second HELLO")));
  } else if (h.type == FrameType::kPing) {
    SendNow(MakePong(*frame));
  } else if (h.type == FrameType::kPong || h.type == FrameType::kAckSummary) {
    return Finish(absl::InvalidArgumentError(
        absl::StrCat("link from ", peer_node_, " sent a frame only children send")));
  } else if (h.type == FrameType::kSource || h.type == FrameType::kAck) {
    return Finish(absl::InvalidArgumentError(absl::StrCat(
        "link from ", peer_node_, " sent SOURCE or ACK, which only client links carry")));
  } else {
    on_frame_(std::move(frame), *this);
  }
  if (closed_) return;
  if (!paused_) ReadHeader();
}

bool InboundLink::Send(FramePtr frame) {
  if (closed_) return false;
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [self, frame = std::move(frame)]() mutable {
    self->SendNow(std::move(frame));
  });
  return true;
}

void InboundLink::SendNow(FramePtr frame) {
  if (closed_) return;
  outgoing_.push_back(std::move(frame));
  if (!writing_) WriteNext();
}

void InboundLink::WriteNext() {
  if (closed_ || outgoing_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  FramePtr frame = outgoing_.front();
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(frame->bytes().data(), frame->bytes().size()),
                      [self, frame](const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          return self->Finish(absl::UnavailableError(
                              absl::StrCat("write to ", self->remote_, ": ", ec.message())));
                        }
                        if (self->closed_) return;
                        self->outgoing_.pop_front();
                        self->WriteNext();
                      });
  });
}

void InboundLink::Finish(absl::Status status) {
  if (closed_) return;
  closed_ = true;
  outgoing_.clear();
  if (!status.ok()) {
    spdlog::warn("closing link from {} ({}): {}", peer_node_.empty() ? "?" : peer_node_, remote_,
                 std::string(status.message()));
  }
  if (handshake_timer_) handshake_timer_->cancel();
  if (hello_timer_) hello_timer_->cancel();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    cb(*this, status);
  }
}

}  // namespace canopy::wire
