#include "wire/client_link.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "wire/shm_handover.h"
#include "wire/unique_fd.h"

namespace canopy::wire {
namespace asio = boost::asio;
using asio::ip::tcp;

ClientLink::ClientLink()
    : own_io_(std::make_unique<IoThread>()), executor_(own_io_->io().get_executor()) {}

ClientLink::ClientLink(std::shared_ptr<Connection> connection)
    : executor_(connection->executor()), connection_(std::move(connection)) {
  remote_ = connection_->remote();
  security_ = connection_->security();
}

ClientLink::~ClientLink() {
  Shutdown();
  if (own_io_ != nullptr) own_io_->Stop();
}

template <typename T, typename Op>
T ClientLink::Run(Op&& op) {
  absl::Notification done;
  std::optional<T> result;
  asio::post(executor_, [&] {
    op([&](T value) {
      result.emplace(std::move(value));
      done.Notify();
    });
  });
  done.WaitForNotification();
  return *std::move(result);
}

absl::StatusOr<std::unique_ptr<ClientLink>> ClientLink::Connect(const Endpoint& node,
                                                                absl::string_view token,
                                                                absl::Duration timeout,
                                                                const ClientLinkTls& tls) {
  std::unique_ptr<ClientLink> link(new ClientLink());
  const std::string where = absl::StrCat("client link to ", node.ToString());
  absl::Status connected = link->Run<absl::Status>([&](auto report) {
    auto resolver = std::make_shared<tcp::resolver>(link->own_io_->io());
    auto socket = std::make_shared<tcp::socket>(link->own_io_->io());
    auto timer = std::make_shared<asio::steady_timer>(
        link->own_io_->io(), std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
    auto finished = std::make_shared<bool>(false);
    timer->async_wait([socket, resolver, finished](const boost::system::error_code& ec) {
      if (ec || *finished) return;
      resolver->cancel();
      boost::system::error_code ignored;
      socket->close(ignored);
    });
    resolver->async_resolve(
        node.host, std::to_string(node.port),
        [&link, socket, resolver, timer, finished, where, report](
            const boost::system::error_code& ec, tcp::resolver::results_type results) {
          if (ec) {
            *finished = true;
            timer->cancel();
            return report(absl::UnavailableError(absl::StrCat(where, ": ", ec.message())));
          }
          asio::async_connect(
              *socket, results,
              [&link, socket, timer, finished, where, report](const boost::system::error_code& ec,
                                                              const tcp::endpoint&) {
                *finished = true;
                timer->cancel();
                if (ec) {
                  return report(absl::UnavailableError(absl::StrCat(where, ": ", ec.message())));
                }
                link->connection_ = Connection::Adopt(std::move(*socket));
                report(absl::OkStatus());
              });
        });
  });
  if (!connected.ok()) return connected;
  link->remote_ = link->connection_->remote();
  if (tls.context != nullptr) {
    absl::Status handshake = link->Run<absl::Status>([&](auto report) {
      link->connection_->Handshake(tls.context, TlsRole::kConnect, node.host,
                                   std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)),
                                   report);
    });
    if (!handshake.ok()) {
      return absl::Status(handshake.code(), absl::StrCat(where, ": ", handshake.message()));
    }
    const PeerCertificate& node_cert = link->connection_->peer();
    if (!tls.peer_unit.empty() && node_cert.unit != tls.peer_unit) {
      return absl::PermissionDeniedError(absl::StrCat(
          where, ": its certificate has OU=", node_cert.unit.empty() ? "(none)" : node_cert.unit,
          ", CN=", node_cert.common_name, "; a node's has OU=", tls.peer_unit));
    }
  }
  link->security_ = link->connection_->security();
  const FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, token);
  const absl::string_view parts[] = {hello->bytes()};
  if (absl::Status w = link->Write(parts); !w.ok()) {
    return absl::UnavailableError(absl::StrCat(where, ": ", w.message()));
  }
  return link;
}

absl::StatusOr<std::unique_ptr<ClientLink>> ClientLink::ConnectLocal(absl::string_view name,
                                                                     absl::string_view token,
                                                                     absl::Duration timeout) {
  if (name.empty() || name.size() > 100 || name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is no local-link name"));
  }
  const std::string where = absl::StrCat("local link @", name);
  const auto address = AbstractUnixEndpoint(name);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(errno)));
  if (connect(fd.get(), address.data(), static_cast<socklen_t>(address.size())) != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(errno)));
  }
  const FramePtr hello = Frame::Make(FrameType::kHello, 0, 0, 0, token);
  if (send(fd.get(), hello->bytes().data(), hello->bytes().size(), MSG_NOSIGNAL) < 0) {
    return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(errno)));
  }
  absl::StatusOr<ShmDirections> rings = ReceiveShmDirections(fd.get(), timeout);
  if (!rings.ok()) {
    return absl::Status(rings.status().code(), absl::StrCat(where, ": ", rings.status().message()));
  }
  std::unique_ptr<ClientLink> link(new ClientLink());
  link->Run<bool>([&](auto report) {
    ShmStream::Socket socket(link->own_io_->io());
    boost::system::error_code ignored;
    socket.assign(LocalLinkProtocol(), fd.release(), ignored);
    link->connection_ = Connection::AdoptLocal(ShmStream::Create(
        std::move(socket), std::move(rings->from_node), std::move(rings->to_node)));
    report(true);
  });
  link->remote_ = link->connection_->remote();
  link->security_ = link->connection_->security();
  return link;
}

absl::Status ClientLink::Write(absl::Span<const absl::string_view> parts) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(parts.size());
  for (absl::string_view part : parts) buffers.emplace_back(part.data(), part.size());
  return Run<absl::Status>(
      [&](auto report) { connection_->Write(std::move(buffers), nullptr, report); });
}

absl::StatusOr<FrameHeader> ClientLink::ReadInto(std::string& payload, uint32_t max_payload) {
  return Run<absl::StatusOr<FrameHeader>>(
      [&](auto report) { connection_->ReadFrameInto(&payload, max_payload, report); });
}

absl::StatusOr<FrameBuffer> ClientLink::ReadFrame(uint32_t max_payload) {
  return Run<absl::StatusOr<FrameBuffer>>([&](auto report) {
    connection_->ReadFrame(max_payload, [report](absl::StatusOr<FrameBuffer> bytes, FrameHeader) {
      report(std::move(bytes));
    });
  });
}

void ClientLink::ShutdownWrite() {
  asio::post(executor_, [c = connection_] { c->ShutdownWrite(); });
}

void ClientLink::Shutdown() {
  if (connection_ == nullptr) return;
  asio::post(executor_, [c = connection_] { c->Close(); });
}

}  // namespace canopy::wire
