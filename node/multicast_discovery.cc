#include "node/multicast_discovery.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"

namespace canopy::node {
namespace {

constexpr absl::string_view kProbePrefix = "CNDISC1 ";
constexpr int kForgetAfterIntervals = 3;

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

MulticastDiscovery::MulticastDiscovery(MulticastDiscoveryOptions options)
    : options_(std::move(options)) {}

MulticastDiscovery::~MulticastDiscovery() { Stop(); }

absl::Status MulticastDiscovery::Start() {
  in_addr interface {
  }, group{};
  if (inet_pton(AF_INET, options_.interface_address.c_str(), &interface) != 1) {
    return absl::UnavailableError(
        absl::StrCat("discovery needs an IPv4 data address, not ", options_.interface_address));
  }
  if (inet_pton(AF_INET, options_.group.c_str(), &group) != 1 ||
      (ntohl(group.s_addr) >> 28) != 0xE) {
    return absl::InvalidArgumentError(
        absl::StrCat("discovery group ", options_.group, " is not an IPv4 multicast address"));
  }
  if ((ntohl(interface.s_addr) >> 24) == 127) {
    return absl::UnavailableError("loopback carries no multicast between hosts");
  }
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Errno("socket");
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in bind_to{};
  bind_to.sin_family = AF_INET;
  bind_to.sin_port = htons(options_.port);
  bind_to.sin_addr = group;  // only datagrams sent to the group
  ip_mreq join{};
  join.imr_multiaddr = group;
  join.imr_interface = interface;
  const unsigned char ttl = 1, loop = 0;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&bind_to), sizeof(bind_to)) != 0 ||
      setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) != 0 ||
      setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0 ||
      setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0 ||
      setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0) {
    absl::Status s = Errno(absl::StrCat("discovery on ", options_.group, ":", options_.port,
                                        " via ", options_.interface_address));
    close(fd_);
    fd_ = -1;
    return s;
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void MulticastDiscovery::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void MulticastDiscovery::Run() {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options_.port);
  inet_pton(AF_INET, options_.group.c_str(), &to.sin_addr);
  const std::string probe = absl::StrCat(kProbePrefix, options_.node_id);
  std::map<std::string, absl::Time> heard;
  std::map<std::string, std::string> address_of;  // node id → IPv4 address
  std::vector<std::string> reported;
  absl::Time next_probe = absl::Now(), next_report = absl::Now();
  bool send_failed = false;
  while (!stop_) {
    const absl::Time now = absl::Now();
    if (now >= next_probe) {
      if (sendto(fd_, probe.data(), probe.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) <
          0) {
        if (!send_failed) spdlog::info("discovery probe not sent: {}", std::strerror(errno));
        send_failed = true;
      } else {
        send_failed = false;
      }
      next_probe = now + options_.interval;
    }
    std::erase_if(heard, [&](const auto& h) {
      return now - h.second > kForgetAfterIntervals * options_.interval;
    });
    std::vector<std::string> peers;
    for (const auto& [id, at] : heard) peers.push_back(id);
    if (peers != reported || now >= next_report) {
      reported = peers;
      next_report = now + kForgetAfterIntervals * options_.interval;
      if (options_.on_peer_addresses) {
        std::set<std::string> addresses;
        for (const std::string& id : peers) addresses.insert(address_of[id]);
        options_.on_peer_addresses(std::move(addresses));
      }
      if (options_.on_peers) options_.on_peers(peers);
    }
    pollfd p{fd_, POLLIN, 0};
    const absl::Duration until = std::min(next_probe, next_report) - absl::Now();
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(until), 1, 100));
    if (poll(&p, 1, wait_ms) <= 0) continue;
    char buf[256];
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    absl::string_view datagram(buf, static_cast<size_t>(n));
    if (!absl::ConsumePrefix(&datagram, kProbePrefix)) continue;
    const std::string id(datagram);
    if (id == options_.node_id || !ValidateNodeId(id).ok()) continue;
    heard[id] = absl::Now();
    char address[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, address, sizeof(address));
    address_of[id] = address;
  }
}

}  // namespace canopy::node
