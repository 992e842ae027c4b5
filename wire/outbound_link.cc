#include "wire/outbound_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
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
// Most frames handed to one gathered write.
constexpr size_t kMaxFramesPerWrite = 64;
constexpr auto kRetryInterval = std::chrono::milliseconds(100);
// Unsent bytes a link leaves in its socket (TCP_NOTSENT_LOWAT).
constexpr int kNotSentLowatBytes = 256 << 10;
}  // namespace

std::shared_ptr<OutboundLink> OutboundLink::Start(asio::io_context& io, std::string peer_node,
                                                  Endpoint address, OutboundLinkOptions options,
                                                  ClosedCallback on_closed) {
  std::shared_ptr<OutboundLink> link(new OutboundLink(io, std::move(peer_node), std::move(address),
                                                      std::move(options), std::move(on_closed)));
  // The HELLO frame goes first, before anything Send() queues.
  link->Send(MakeHello(link->options_.local_node_id, link->options_.link_token));
  asio::post(io, [link] { link->Resolve(); });
  return link;
}

OutboundLink::OutboundLink(asio::io_context& io, std::string peer_node, Endpoint address,
                           OutboundLinkOptions options, ClosedCallback on_closed)
    : io_(io),
      peer_node_(std::move(peer_node)),
      address_(std::move(address)),
      options_(std::move(options)),
      connect_deadline_(absl::Now() + options_.connect_timeout),
      socket_(io),
      resolver_(io),
      retry_timer_(io),
      on_closed_(std::move(on_closed)) {}

OutboundLink::~OutboundLink() = default;

void OutboundLink::Resolve() {
  auto self = shared_from_this();
  resolver_.async_resolve(
      address_.host, std::to_string(address_.port),
      [self](const boost::system::error_code& ec, tcp::resolver::results_type r) {
        if (self->closed()) return;
        if (ec) {
          self->RetryOrFail(absl::StrCat("resolve: ", ec.message()));
          return;
        }
        self->Connect(std::move(r));
      });
}

void OutboundLink::Connect(tcp::resolver::results_type endpoints) {
  auto self = shared_from_this();
  asio::async_connect(
      socket_, endpoints, [self](const boost::system::error_code& ec, const tcp::endpoint&) {
        if (self->closed()) return;
        if (ec) {
          self->RetryOrFail(absl::StrCat("connect: ", ec.message()));
          return;
        }
        boost::system::error_code ignored;
        self->socket_.set_option(tcp::no_delay(true), ignored);
        // Keep at most this much unsent data in the kernel: the rest
        // waits in the link's own queue, where back pressure and
        // drop policies see it, and a relayed byte does not sit
        // behind megabytes of socket buffer at every hop.
        using NotSentLowat = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
        self->socket_.set_option(NotSentLowat(kNotSentLowatBytes), ignored);
        self->Secure();
      });
}

template <typename Op>
void OutboundLink::OnStream(Op&& op) {
  if (tls_) {
    op(*tls_);
  } else {
    op(socket_);
  }
}

void OutboundLink::Secure() {
  if (!options_.tls.enabled()) return Flow();
  tls_ = std::make_unique<TlsStream>(socket_, options_.tls.context->asio());
  // Keep the record buffers of a busy link instead of freeing them
  // whenever they run empty.
  SSL_clear_mode(tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  auto self = shared_from_this();
  tls_->async_handshake(
      asio::ssl::stream_base::client, [self](const boost::system::error_code& ec) {
        if (self->closed()) return;
        const std::string link =
            absl::StrCat("link to ", self->peer_node_, " at ", self->address_.ToString());
        if (ec) {
          return self->Fail(
              absl::UnavailableError(absl::StrCat(link, ": TLS handshake failed: ", ec.message())));
        }
        absl::StatusOr<PeerCertificate> peer = PeerCertificateOf(self->tls_->native_handle());
        absl::Status identity =
            peer.ok() ? CheckPeerNode(*peer, self->options_.tls.peer_unit, self->peer_node_)
                      : peer.status();
        if (!identity.ok()) {
          return self->Fail(
              absl::PermissionDeniedError(absl::StrCat(link, ": refused: ", identity.message())));
        }
        spdlog::info("{}: {}", link, SessionDescription(self->tls_->native_handle()));
        self->Flow();
      });
}

void OutboundLink::Flow() {
  ReadControl();
  absl::MutexLock lock(&mu_);
  connected_ = true;
  MaybeStartWrite();
}

void OutboundLink::ReadControl() {
  auto self = shared_from_this();
  OnStream([&](auto& stream) {
    asio::async_read(
        stream, asio::buffer(control_header_), [self](const boost::system::error_code& ec, size_t) {
          if (self->closed()) return;
          if (ec) {
            const bool closed_by_child =
                ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
            return self->Fail(absl::UnavailableError(
                absl::StrCat("link to ", self->peer_node_, " at ", self->address_.ToString(), ": ",
                             closed_by_child ? "closed by the child" : ec.message())));
          }
          absl::StatusOr<FrameHeader> h = DecodeHeader(
              absl::string_view(self->control_header_.data(), kHeaderSize), kMaxAckSummaryPayload);
          if (h.ok() && h->type != FrameType::kResume && h->type != FrameType::kPong &&
              h->type != FrameType::kAckSummary) {
            h = absl::InvalidArgumentError("a child sends only RESUME, PONG and ACK_SUMMARY frames");
          }
          if (!h.ok()) {
            return self->Fail(absl::InvalidArgumentError(
                absl::StrCat("link to ", self->peer_node_, ": ", h.status().message())));
          }
          auto bytes = std::make_shared<FrameBuffer>(kHeaderSize + h->length);
          std::copy(self->control_header_.begin(), self->control_header_.end(), bytes->data());
          self->OnStream([&](auto& stream) {
            asio::async_read(
                stream, asio::buffer(bytes->data() + kHeaderSize, h->length),
                [self, bytes](const boost::system::error_code& ec, size_t) {
                  if (self->closed()) return;
                  absl::StatusOr<FramePtr> frame =
                      ec ? absl::UnavailableError(ec.message())
                         : Frame::Adopt(std::move(*bytes), kMaxAckSummaryPayload);
                  if (!frame.ok()) {
                    return self->Fail(absl::InvalidArgumentError(absl::StrCat(
                        "link to ", self->peer_node_, ": ", frame.status().message())));
                  }
                  if (self->options_.on_control)
                    self->options_.on_control(*std::move(frame), self);
                  self->ReadControl();
                });
          });
        });
  });
}

void OutboundLink::RetryOrFail(const std::string& why) {
  if (absl::Now() >= connect_deadline_) {
    Fail(absl::UnavailableError(
        absl::StrCat("link to ", peer_node_, " at ", address_.ToString(), ": ", why)));
    return;
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
  retry_timer_.expires_after(kRetryInterval);
  auto self = shared_from_this();
  retry_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec && !self->closed()) self->Resolve();
  });
}

bool OutboundLink::Send(FramePtr frame) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  queued_bytes_ += frame->bytes().size();
  queue_.push_back(std::move(frame));
  MaybeStartWrite();
  return true;
}

bool OutboundLink::SendDroppingOldest(FramePtr frame) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  queued_bytes_ += frame->bytes().size();
  queue_.push_back(std::move(frame));
  // queue_ holds only frames not yet handed to the socket; never drop HELLO
  // or the newest frame.
  for (auto it = queue_.begin();
       queued_bytes_ > options_.high_watermark_bytes && std::next(it) != queue_.end();) {
    if ((*it)->header().type != FrameType::kData) {
      ++it;
      continue;
    }
    queued_bytes_ -= (*it)->bytes().size();
    it = queue_.erase(it);
    ++dropped_frames_;
  }
  MaybeStartWrite();
  return true;
}

uint64_t OutboundLink::dropped_frames() const {
  absl::MutexLock lock(&mu_);
  return dropped_frames_;
}

void OutboundLink::MaybeStartWrite() {
  if (!connected_ || writing_ || closed_ || queue_.empty()) return;
  writing_ = true;
  // The batch owns its frames until the write completes, so Close() may
  // clear the queue while the write is in flight.
  auto batch = std::make_shared<std::vector<FramePtr>>();
  const size_t n = std::min(queue_.size(), kMaxFramesPerWrite);
  batch->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  auto self = shared_from_this();
  asio::post(io_, [self, batch]() {
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(batch->size());
    for (const FramePtr& f : *batch) {
      buffers.emplace_back(f->bytes().data(), f->bytes().size());
    }
    self->OnStream([&](auto& stream) {
      asio::async_write(stream, buffers,
                        [self, batch](const boost::system::error_code& ec, size_t) {
                          self->OnWritten(ec, *batch);
                        });
    });
  });
}

void OutboundLink::OnWritten(const boost::system::error_code& ec,
                             const std::vector<FramePtr>& batch) {
  if (ec) {
    Fail(absl::UnavailableError(absl::StrCat("link to ", peer_node_, " at ", address_.ToString(),
                                             ": write: ", ec.message())));
    return;
  }
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    for (const FramePtr& f : batch) {
      queued_bytes_ -= f->bytes().size();
      written_bytes_ += f->bytes().size();
    }
    writing_ = false;
    MaybeStartWrite();
    ready = TakeDrainWaitersIfDrained();
  }
  for (auto& f : ready) f();
}

std::vector<std::function<void()>> OutboundLink::TakeDrainWaitersIfDrained() {
  if (!closed_ && queued_bytes_ > options_.low_watermark_bytes) return {};
  return std::exchange(drain_waiters_, {});
}

bool OutboundLink::OverHighWatermark() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_ > options_.high_watermark_bytes;
}

size_t OutboundLink::QueuedBytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

uint64_t OutboundLink::WrittenBytes() const {
  absl::MutexLock lock(&mu_);
  return written_bytes_;
}

bool OutboundLink::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void OutboundLink::NotifyWhenDrained(std::function<void()> ready) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_ && queued_bytes_ > options_.low_watermark_bytes) {
      drain_waiters_.push_back(std::move(ready));
      return;
    }
  }
  asio::post(io_, std::move(ready));
}

void OutboundLink::Close() {
  auto self = shared_from_this();
  asio::post(io_, [self] { self->Fail(absl::OkStatus()); });
}

void OutboundLink::Fail(absl::Status status) {
  ClosedCallback on_closed;
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    on_closed = std::move(on_closed_);
    ready = std::exchange(drain_waiters_, {});
  }
  if (!status.ok()) spdlog::warn("{}", std::string(status.message()));
  boost::system::error_code ignored;
  retry_timer_.cancel();
  resolver_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  for (auto& f : ready) f();
  if (on_closed) on_closed(status);
}

}  // namespace canopy::wire
