#include "node/multicast_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/address.h"
#include "spdlog/spdlog.h"

namespace canopy::node {
namespace {

constexpr size_t kMaxDatagramBytes = 65507;
// Partial frames older than this are abandoned (a fragment was lost: the
// relay asks for the frame again).
constexpr absl::Duration kReassemblyAge = absl::Seconds(2);
constexpr size_t kReassemblyBytes = 64u << 20;

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<sockaddr_in> ParseMulticastAddress(const std::string& text) {
  absl::StatusOr<HostPort> hp = ParseHostPort(text);
  if (!hp.ok()) return hp.status();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp->port);
  if (inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr) != 1 ||
      (ntohl(a.sin_addr.s_addr) >> 28) != 0xE || hp->port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an IPv4 multicast GROUP_ADDR:PORT"));
  }
  return a;
}

MulticastChannel::MulticastChannel(MulticastChannelOptions options)
    : options_(std::move(options)) {}

MulticastChannel::~MulticastChannel() { Stop(); }

absl::Status MulticastChannel::Start() {
  if (options_.datagram_bytes < kMinDatagramBytes || options_.datagram_bytes > kMaxDatagramBytes) {
    return absl::InvalidArgumentError(absl::StrCat("multicast datagrams must be ",
                                                   kMinDatagramBytes, "..", kMaxDatagramBytes,
                                                   " bytes, not ", options_.datagram_bytes));
  }
  in_addr interface {};
  if (inet_pton(AF_INET, options_.interface_address.c_str(), &interface) != 1) {
    return absl::UnavailableError(absl::StrCat("native multicast needs an IPv4 data address, not ",
                                               options_.interface_address));
  }
  if ((ntohl(interface.s_addr) >> 24) == 127) {
    return absl::UnavailableError("loopback carries no multicast between hosts");
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  const unsigned char loop = 0;
  // Big enough for a burst of a few frames: what the kernel cannot queue
  // is refused (counted) and repaired by the receivers.
  const int sndbuf = 4 << 20;
  if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0 ||
      setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0) {
    absl::Status s = Errno(absl::StrCat("multicast on ", options_.interface_address));
    close(fd);
    return s;
  }
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  absl::MutexLock lock(&mu_);
  send_fd_ = fd;
  return absl::OkStatus();
}

void MulticastChannel::Stop() {
  stop_ = true;
  if (receive_thread_.joinable()) receive_thread_.join();
  absl::MutexLock lock(&mu_);
  if (send_fd_ >= 0) close(send_fd_);
  if (receive_fd_ >= 0) close(receive_fd_);
  send_fd_ = receive_fd_ = -1;
}

absl::Status MulticastChannel::Send(const std::string& group, int ttl, const wire::Frame& frame) {
  absl::StatusOr<sockaddr_in> to = ParseMulticastAddress(group);
  if (!to.ok()) return to.status();
  const absl::string_view bytes = frame.bytes();
  const size_t slice = SliceBytes(options_.datagram_bytes);
  const uint32_t count = FragmentCount(bytes.size(), options_.datagram_bytes);
  if (count > kMaxFragments) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a frame of ", bytes.size(), " bytes needs more than ", kMaxFragments, " datagrams"));
  }
  absl::MutexLock lock(&mu_);
  if (send_fd_ < 0) return absl::FailedPreconditionError("multicast channel not started");
  if (ttl != last_ttl_) {
    const unsigned char t = static_cast<unsigned char>(std::clamp(ttl, 1, 255));
    setsockopt(send_fd_, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof(t));
    last_ttl_ = ttl;
  }
  uint64_t refused = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::array<char, kDatagramHeaderBytes> header = DatagramHeader(frame.header(), i, count);
    const absl::string_view part = bytes.substr(static_cast<size_t>(i) * slice, slice);
    iovec iov[2] = {{header.data(), header.size()}, {const_cast<char*>(part.data()), part.size()}};
    msghdr msg{};
    msg.msg_name = &*to;
    msg.msg_namelen = sizeof(*to);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (sendmsg(send_fd_, &msg, 0) < 0) ++refused;
  }
  counters_.datagrams_sent += count - refused;
  counters_.send_errors += refused;
  ++counters_.frames_sent;
  if (refused > 0) {
    return absl::UnavailableError(absl::StrCat(refused, " of ", count, " datagrams refused"));
  }
  return absl::OkStatus();
}

absl::Status MulticastChannel::Join(const std::string& group) {
  absl::StatusOr<sockaddr_in> g = ParseMulticastAddress(group);
  if (!g.ok()) return g.status();
  in_addr interface {};
  inet_pton(AF_INET, options_.interface_address.c_str(), &interface);
  bool start_thread = false;
  {
    absl::MutexLock lock(&mu_);
    if (int& count = joined_[group]; count++ > 0) return absl::OkStatus();
    const int port = ntohs(g->sin_port);
    if (receive_fd_ < 0) {
      const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      const int one = 1, rcvbuf = 8 << 20;
      sockaddr_in any{};
      any.sin_family = AF_INET;
      any.sin_port = htons(static_cast<uint16_t>(port));
      any.sin_addr.s_addr = htonl(INADDR_ANY);
      if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
          bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0) {
        absl::Status s = Errno(absl::StrCat("multicast receive port ", port));
        if (fd >= 0) close(fd);
        joined_.erase(group);
        return s;
      }
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
      receive_fd_ = fd;
      receive_port_ = port;
      start_thread = true;
    } else if (port != receive_port_) {
      joined_.erase(group);
      return absl::InvalidArgumentError(absl::StrCat(
          "group ", group, " uses port ", port, "; this node receives on port ", receive_port_));
    }
    ip_mreq join{};
    join.imr_multiaddr = g->sin_addr;
    join.imr_interface = interface;
    if (setsockopt(receive_fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) != 0) {
      joined_.erase(group);
      return Errno(absl::StrCat("joining ", group, " on ", options_.interface_address));
    }
  }
  if (start_thread) receive_thread_ = std::thread([this] { Receive(); });
  return absl::OkStatus();
}

void MulticastChannel::Leave(const std::string& group) {
  absl::StatusOr<sockaddr_in> g = ParseMulticastAddress(group);
  if (!g.ok()) return;
  absl::MutexLock lock(&mu_);
  auto it = joined_.find(group);
  if (it == joined_.end() || --it->second > 0) return;
  joined_.erase(it);
  ip_mreq leave{};
  leave.imr_multiaddr = g->sin_addr;
  inet_pton(AF_INET, options_.interface_address.c_str(), &leave.imr_interface);
  setsockopt(receive_fd_, IPPROTO_IP, IP_DROP_MEMBERSHIP, &leave, sizeof(leave));
}

MulticastChannelCounters MulticastChannel::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void MulticastChannel::Receive() {
  int fd;
  {
    absl::MutexLock lock(&mu_);
    fd = receive_fd_;
  }
  FrameReassembler reassembler(options_.max_payload, kReassemblyAge, kReassemblyBytes);
  std::vector<char> buf(kMaxDatagramBytes);
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    absl::StatusOr<wire::FramePtr> frame =
        reassembler.Add(absl::string_view(buf.data(), static_cast<size_t>(n)), absl::Now());
    {
      absl::MutexLock lock(&mu_);
      counters_.frames_abandoned = reassembler.abandoned();
      if (!frame.ok()) {
        if (counters_.datagrams_malformed++ == 0) {
          spdlog::warn("ignoring a malformed multicast datagram: {}", frame.status().ToString());
        }
        continue;
      }
      if (*frame == nullptr) continue;
      ++counters_.frames_received;
    }
    char sender[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, sender, sizeof(sender));
    if (options_.on_frame) options_.on_frame(*std::move(frame), sender);
  }
}

}  // namespace canopy::node
