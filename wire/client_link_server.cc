#include "wire/client_link_server.h"

#include <array>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "spdlog/spdlog.h"
#include "wire/log_throttle.h"
#include "wire/shm_handover.h"

namespace canopy::wire {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kTokenBytes = 16;

// Compares without stopping at the first difference, so the time taken
// says nothing about how much of a guess was right.
bool SameToken(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string NewClientLinkToken() {
  std::random_device entropy;  // the kernel's CSPRNG on Linux
  std::array<char, kTokenBytes> raw;
  for (size_t i = 0; i < raw.size(); i += sizeof(uint32_t)) {
    const uint32_t word = entropy();
    for (size_t j = 0; j < sizeof(uint32_t); ++j) raw[i + j] = static_cast<char>(word >> (8 * j));
  }
  return absl::BytesToHexString(absl::string_view(raw.data(), raw.size()));
}

absl::StatusOr<std::unique_ptr<ClientLinkServer>> ClientLinkServer::Open(
    const Endpoint& address, std::shared_ptr<TlsContext> tls, size_t local_ring_bytes) {
  std::unique_ptr<ClientLinkServer> server(new ClientLinkServer(std::move(tls)));
  if (absl::Status s = server->Bind(address); !s.ok()) return s;
  server->local_ring_bytes_ = local_ring_bytes;
  if (local_ring_bytes > 0) {
    if (absl::Status s = server->BindLocal(); !s.ok()) {
      spdlog::warn("no local (shared-memory) client links: {}", std::string(s.message()));
    } else {
      spdlog::info("local client links at @{}: shared-memory rings of {} KiB each way",
                   server->local_name_, local_ring_bytes >> 10);
    }
  }
  asio::post(server->io(), [s = server.get()] {
    s->Accept();
    if (!s->local_name_.empty()) s->AcceptLocal();
    s->ExpireOffers();
  });
  return server;
}

absl::Status ClientLinkServer::BindLocal() {
  if (absl::StatusOr<ShmRing> probe = ShmRing::Create(local_ring_bytes_); !probe.ok()) {
    return probe.status();
  }
  const std::string name = NewLocalLinkName();
  boost::system::error_code ec;
  local_acceptor_.open(LocalLinkProtocol(), ec);
  const auto endpoint = AbstractUnixEndpoint(name);
  if (!ec) local_acceptor_.bind(endpoint, ec);
  if (!ec) local_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on @", name, ": ", ec.message()));
  local_name_ = name;
  return absl::OkStatus();
}

ClientLinkServer::ClientLinkServer(std::shared_ptr<TlsContext> tls)
    : acceptor_(io_thread_.io()),
      local_acceptor_(io_thread_.io()),
      tls_(std::move(tls)),
      expiry_(std::make_unique<asio::steady_timer>(io_thread_.io())) {}

absl::Status ClientLinkServer::Bind(const Endpoint& address) {
  boost::system::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("client-link address ", address.ToString(), ": ", ec.message()));
  }
  const tcp::endpoint endpoint(ip, address.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", ec.message()));
  }
  bound_ = Endpoint{address.host, acceptor_.local_endpoint().port()};
  return absl::OkStatus();
}

ClientLinkServer::~ClientLinkServer() { Stop(); }

void ClientLinkServer::Stop() {
  Close();
  // Handlers still queued (some hold `this`) are dropped with the loop.
  io_thread_.Stop();
}

void ClientLinkServer::Offer(const std::string& token, std::string peer_der, absl::Time deadline,
                             LinkHandler on_link) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      offers_[token] = Pending{std::move(peer_der), deadline, std::move(on_link)};
      return;
    }
  }
  on_link(absl::CancelledError("the node is stopping"));
}

void ClientLinkServer::Withdraw(const std::string& token) {
  LinkHandler handler;
  {
    absl::MutexLock lock(&mu_);
    auto it = offers_.find(token);
    if (it == offers_.end()) return;
    handler = std::move(it->second.on_link);
    offers_.erase(it);
  }
  handler(absl::CancelledError("the offer was withdrawn"));
}

void ClientLinkServer::Close() {
  std::map<std::string, Pending> offers;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    offers.swap(offers_);
  }
  asio::post(io(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    local_acceptor_.close(ignored);
    expiry_->cancel();
  });
  for (auto& [token, pending] : offers) {
    pending.on_link(absl::CancelledError("the node is stopping"));
  }
}

void ClientLinkServer::ExpireOffers() {
  std::vector<LinkHandler> expired;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    const absl::Time now = absl::Now();
    for (auto it = offers_.begin(); it != offers_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      expired.push_back(std::move(it->second.on_link));
      it = offers_.erase(it);
    }
  }
  for (auto& handler : expired) {
    handler(absl::DeadlineExceededError("the client did not connect to its link in time"));
  }
  expiry_->expires_after(std::chrono::milliseconds(250));
  expiry_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) ExpireOffers();
  });
}

void ClientLinkServer::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      auto connection = Connection::Adopt(std::move(socket));
      // The whole admission (handshake and HELLO) has a deadline; a link
      // handed over cancels it.
      auto deadline = std::make_shared<asio::steady_timer>(
          io(), std::chrono::microseconds(absl::ToInt64Microseconds(kHelloTimeout)) +
                   (tls_ ? kTlsHandshakeTimeout : std::chrono::seconds(0)));
      deadline->async_wait([this, connection](const boost::system::error_code& ec) {
        if (!ec) Refuse(connection, "no HELLO in time");
      });
      if (tls_ == nullptr) {
        ReadHello(connection, deadline, /*plaintext_on_tls=*/false);
      } else {
        // A frame starts with the magic number, a TLS connection with a
        // handshake record: name a plaintext client as such.
        connection->PeekFirstByte([this, connection, deadline](absl::StatusOr<uint8_t> first) {
          if (!first.ok()) return Refuse(connection, std::string(first.status().message()));
          if (*first == (kMagic >> 8)) {
            return ReadHello(connection, deadline, /*plaintext_on_tls=*/true);
          }
          connection->Handshake(tls_, TlsRole::kAccept, "", kTlsHandshakeTimeout,
                                [this, connection, deadline](absl::Status s) {
                                  if (!s.ok()) return Refuse(connection, std::string(s.message()));
                                  ReadHello(connection, deadline, /*plaintext_on_tls=*/false);
                                });
        });
      }
    }
    if (acceptor_.is_open()) Accept();
  });
}

void ClientLinkServer::ReadHello(const std::shared_ptr<Connection>& connection,
                                 const std::shared_ptr<asio::steady_timer>& deadline,
                                 bool plaintext_on_tls) {
  connection->ReadFrame(kMaxControlPayload, [this, connection, deadline, plaintext_on_tls](
                                                absl::StatusOr<FrameBuffer> bytes, FrameHeader) {
    if (!bytes.ok()) return Refuse(connection, std::string(bytes.status().message()));
    absl::StatusOr<FramePtr> hello = Frame::Adopt(*std::move(bytes), kMaxControlPayload);
    if (!hello.ok()) return Refuse(connection, std::string(hello.status().message()));
    if ((*hello)->header().type != FrameType::kHello) {
      return Refuse(connection, "the first frame is not HELLO");
    }
    const absl::string_view token = (*hello)->payload();
    std::string why;
    LinkHandler handler =
        TakeOffer(token, plaintext_on_tls ? nullptr : &connection->peer(), &why);
    if (plaintext_on_tls) {
      Refuse(connection, "plaintext, but this node's client links need TLS");
      if (handler) {
        handler(absl::FailedPreconditionError(
            "the client link was opened without TLS, but this node serves its clients with TLS: "
            "the link's token went out in plaintext, so the offer is withdrawn (a client with "
            "TLS files uses TLS on its link too)"));
      }
      return;
    }
    if (!handler) return Refuse(connection, why);
    deadline->cancel();
    handler(connection);
  });
}

ClientLinkServer::LinkHandler ClientLinkServer::TakeOffer(absl::string_view token,
                                                          const PeerCertificate* peer,
                                                          std::string* why) {
  absl::MutexLock lock(&mu_);
  auto it = offers_.end();
  for (auto o = offers_.begin(); o != offers_.end(); ++o) {
    if (SameToken(o->first, token)) it = o;
  }
  if (it == offers_.end()) {
    *why = "wrong token";
    return nullptr;
  }
  if (peer != nullptr && !it->second.peer_der.empty() && peer->der != it->second.peer_der) {
    *why = absl::StrCat("its certificate (OU=", peer->unit.empty() ? "(none)" : peer->unit,
                        ", CN=", peer->common_name,
                        ") is not the one the call that was offered the link came with");
    return nullptr;
  }
  LinkHandler handler = std::move(it->second.on_link);
  offers_.erase(it);
  return handler;
}

void ClientLinkServer::CountRefusal(const std::string& from, const std::string& why) {
  const uint64_t refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (WorthALogLine(refused)) {
    spdlog::warn("refused client link from {}: {} ({} refused so far)", from, why, refused);
  }
}

void ClientLinkServer::Refuse(const std::shared_ptr<Connection>& connection,
                              const std::string& why) {
  if (connection->closed()) return;
  CountRefusal(connection->remote(), why);
  connection->Close();
}

void ClientLinkServer::AcceptLocal() {
  local_acceptor_.async_accept([this](const boost::system::error_code& ec, LocalSocket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) AdmitLocal(std::make_shared<LocalSocket>(std::move(socket)));
    if (local_acceptor_.is_open()) AcceptLocal();
  });
}

void ClientLinkServer::RefuseLocal(LocalSocket& socket, const std::string& why) {
  if (!socket.is_open()) return;
  CountRefusal("a local client", why);
  boost::system::error_code ignored;
  socket.close(ignored);
}

void ClientLinkServer::AdmitLocal(std::shared_ptr<LocalSocket> socket) {
  auto deadline = std::make_shared<asio::steady_timer>(
      io(), std::chrono::microseconds(absl::ToInt64Microseconds(kHelloTimeout)));
  deadline->async_wait([this, socket](const boost::system::error_code& ec) {
    if (!ec) RefuseLocal(*socket, "no HELLO in time");
  });
  // A HELLO is one message: a frame header and a token.
  struct Hello {
    std::array<char, kHeaderSize + kMaxControlPayload + 1> bytes;
    asio::socket_base::message_flags flags = 0;
  };
  auto hello = std::make_shared<Hello>();
  socket->async_receive(
      asio::buffer(hello->bytes), hello->flags,
      [this, socket, deadline, hello](const boost::system::error_code& ec, size_t n) {
        if (!socket->is_open()) return;  // refused on the deadline
        deadline->cancel();
        if (ec || n == 0) return RefuseLocal(*socket, "it sent no HELLO");
        absl::StatusOr<FramePtr> frame = Frame::Adopt(
            FrameBuffer::CopyOf(absl::string_view(hello->bytes.data(), n)), kMaxControlPayload);
        if (!frame.ok()) return RefuseLocal(*socket, std::string(frame.status().message()));
        if ((*frame)->header().type != FrameType::kHello) {
          return RefuseLocal(*socket, "the first frame is not HELLO");
        }
        // The rings first: an offer is taken only when it can be kept.
        absl::StatusOr<ShmDirections> rings = CreateShmDirections(local_ring_bytes_);
        if (!rings.ok()) return RefuseLocal(*socket, std::string(rings.status().message()));
        std::string why;
        LinkHandler handler = TakeOffer((*frame)->payload(), nullptr, &why);
        if (!handler) return RefuseLocal(*socket, why);
        if (absl::Status sent = SendShmDirections(socket->native_handle(), *rings); !sent.ok()) {
          RefuseLocal(*socket, std::string(sent.message()));
          return handler(sent);
        }
        auto stream = ShmStream::Create(std::move(*socket), std::move(rings->to_node),
                                        std::move(rings->from_node));
        handler(Connection::AdoptLocal(std::move(stream)));
      });
}

}  // namespace canopy::wire
