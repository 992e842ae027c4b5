#include "wire/shm_handover.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace canopy::wire {
namespace {

constexpr size_t kDescriptors = 6;

// True if `fd` is an eventfd (its /proc link says so).
bool IsEventFd(int fd) {
  std::array<char, 64> target{};
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  const ssize_t n = readlink(path.c_str(), target.data(), target.size() - 1);
  return n > 0 && absl::string_view(target.data(), static_cast<size_t>(n)) ==
                      "anon_inode:[eventfd]";
}

absl::StatusOr<ShmDirection> MapDirection(UniqueFd ring, UniqueFd data, UniqueFd room) {
  if (!IsEventFd(data.get()) || !IsEventFd(room.get())) {
    return absl::InvalidArgumentError("the node's handover carries a descriptor that is no eventfd");
  }
  absl::StatusOr<ShmRing> mapped = ShmRing::Map(std::move(ring));
  if (!mapped.ok()) return mapped.status();
  return ShmDirection{*std::move(mapped), std::move(data), std::move(room)};
}

}  // namespace

boost::asio::generic::seq_packet_protocol::endpoint AbstractUnixEndpoint(absl::string_view name) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  return boost::asio::generic::seq_packet_protocol::endpoint(
      &address, offsetof(sockaddr_un, sun_path) + 1 + name.size(), 0);
}

boost::asio::generic::seq_packet_protocol LocalLinkProtocol() {
  return boost::asio::generic::seq_packet_protocol(AF_UNIX, 0);
}

std::string NewLocalLinkName() {
  std::random_device entropy;
  return absl::StrCat("canopy-links-", getpid(), "-", absl::Hex(entropy(), absl::kZeroPad8));
}

absl::Status SendShmDirections(int socket, const ShmDirections& directions) {
  const int fds[kDescriptors] = {
      directions.to_node.ring.fd(),   directions.to_node.data.get(),
      directions.to_node.room.get(),  directions.from_node.ring.fd(),
      directions.from_node.data.get(), directions.from_node.room.get()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
  iovec iov{const_cast<char*>(kShmGreeting), sizeof(kShmGreeting) - 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
  if (sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    return absl::UnavailableError(absl::StrCat("handing the rings over: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ShmDirections> ReceiveShmDirections(int socket, absl::Duration timeout) {
  pollfd p{socket, POLLIN, 0};
  const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready == 0) return absl::UnavailableError("the node handed over no rings in time");
  if (ready < 0) return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));

  std::array<char, 64> payload{};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kDescriptors + 2))] = {};
  iovec iov{payload.data(), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return absl::UnavailableError(absl::StrCat("recvmsg: ", std::strerror(errno)));
  // Own every descriptor that came, whatever else is wrong.
  std::vector<UniqueFd> received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      received.emplace_back(fd);
    }
  }
  if (n == 0) return absl::UnavailableError("the node closed the local link (it refused the token)");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
      absl::string_view(payload.data(), static_cast<size_t>(n)) != kShmGreeting) {
    return absl::InvalidArgumentError("the node's message is not a ring handover");
  }
  if (received.size() != kDescriptors) {
    return absl::InvalidArgumentError(absl::StrCat("the node's handover carries ", received.size(),
                                                   " descriptors, not ", kDescriptors));
  }
  absl::StatusOr<ShmDirection> to_node =
      MapDirection(std::move(received[0]), std::move(received[1]), std::move(received[2]));
  if (!to_node.ok()) return to_node.status();
  absl::StatusOr<ShmDirection> from_node =
      MapDirection(std::move(received[3]), std::move(received[4]), std::move(received[5]));
  if (!from_node.ok()) return from_node.status();
  return ShmDirections{*std::move(to_node), *std::move(from_node)};
}

}  // namespace canopy::wire
