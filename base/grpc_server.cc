#include "base/grpc_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/security/server_credentials.h"

namespace canopy {

absl::Status CheckCanListen(const HostPort& address) {
  if (address.port == 0) return absl::OkStatus();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", gai_strerror(rc)));
  }
  absl::Cleanup free_found = [found] { freeaddrinfo(found); };
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", std::strerror(errno)));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ListeningServer> StartExclusiveServer(grpc::ServerBuilder& builder,
                                                     const HostPort& address,
                                                     const std::optional<TlsPem>& tls) {
  if (absl::Status s = CheckCanListen(address); !s.ok()) return s;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(address.ToString(),
                           tls ? TlsServerCredentials(*tls) : grpc::InsecureServerCredentials(),
                           &port);
  ListeningServer started{builder.BuildAndStart(), address};
  if (started.server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address.ToString()));
  }
  started.bound.port = static_cast<uint16_t>(port);
  return started;
}

}  // namespace canopy
