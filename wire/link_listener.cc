#include "wire/link_listener.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "wire/log_throttle.h"

namespace canopy::wire {
namespace asio = boost::asio;
using asio::ip::tcp;

absl::StatusOr<std::unique_ptr<LinkListener>> LinkListener::Open(asio::io_context& io,
                                                                 const Endpoint& address,
                                                                 uint32_t max_payload,
                                                                 InboundLink::FrameHandler on_frame,
                                                                 LinkLimits limits, LinkTls tls) {
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints =
      resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve data address ", address.ToString(), ": ", ec.message()));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on data address ", address.ToString(), ": ", ec.message()));
  }
  Endpoint bound{address.host, acceptor.local_endpoint().port()};
  std::unique_ptr<LinkListener> listener(new LinkListener(std::move(acceptor), max_payload,
                                                          std::move(on_frame), std::move(bound),
                                                          limits, std::move(tls)));
  listener->Accept();
  return listener;
}

LinkListener::LinkListener(tcp::acceptor acceptor, uint32_t max_payload,
                           InboundLink::FrameHandler on_frame, Endpoint bound, LinkLimits limits,
                           LinkTls tls)
    : acceptor_(std::move(acceptor)),
      max_payload_(max_payload),
      on_frame_(std::move(on_frame)),
      bound_(std::move(bound)),
      limits_(limits),
      tls_(std::move(tls)) {}

bool LinkListener::Admit(const std::string& address) {
  int& from_address = links_per_address_[address];
  if (from_address < limits_.per_address && static_cast<int>(links_.size()) < limits_.total) {
    ++from_address;
    return true;
  }
  if (from_address == 0) links_per_address_.erase(address);
  const uint64_t refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (WorthALogLine(refused)) {
    spdlog::warn(
        "refusing a data link from {}: {} links from it, {} in all (limits {}/{}); "
        "{} refused so far",
        address, from_address, links_.size(), limits_.per_address, limits_.total, refused);
  }
  return false;
}

void LinkListener::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("accept on {}: {}", bound_.ToString(), std::string(ec.message()));
    } else {
      boost::system::error_code ignored;
      const tcp::endpoint remote = socket.remote_endpoint(ignored);
      const std::string address = ignored ? "unknown" : remote.address().to_string();
      if (!Admit(address)) {
        socket.close(ignored);
      } else {
        socket.set_option(tcp::no_delay(true), ignored);
        auto link = std::make_shared<InboundLink>(
            std::move(socket), max_payload_, on_frame_,
            [this, address](InboundLink& closed, const absl::Status&) {
              // Keep the link alive until its last handler has returned.
              auto self = closed.shared_from_this();
              links_.erase(self);
              if (--links_per_address_[address] <= 0) links_per_address_.erase(address);
              switch (closed.refusal()) {
                case InboundLink::Refusal::kTlsHandshake:
                  refused_tls_.fetch_add(1, std::memory_order_relaxed);
                  break;
                case InboundLink::Refusal::kIdentity:
                  refused_identity_.fetch_add(1, std::memory_order_relaxed);
                  break;
                case InboundLink::Refusal::kNoHello:
                  refused_no_hello_.fetch_add(1, std::memory_order_relaxed);
                  break;
                case InboundLink::Refusal::kNone:
                  break;
              }
            },
            tls_);
        links_.insert(link);
        link->Start();
      }
    }
    if (acceptor_.is_open()) Accept();
  });
}

void LinkListener::Close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto links = std::move(links_);
  for (const auto& link : links) link->Close();
}

}  // namespace canopy::wire
