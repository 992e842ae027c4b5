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
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
  // "CNDISC1 <id>[ gw=<group>,<group>...]": the native groups this node is
  // a gateway for ride along, so a LAN's gateways can pick one per group.
  std::string probe = absl::StrCat(kProbePrefix, options_.node_id);
  if (!options_.gateway_groups.empty()) {
    absl::StrAppend(&probe, " gw=", absl::StrJoin(options_.gateway_groups, ","));
  }
  std::map<std::string, absl::Time> heard;
  std::map<std::string, LanPeer> peer_of;  // node id → its address and gateway groups
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
      if (options_.on_lan_peers) {
        std::vector<LanPeer> lan_peers;
        for (const std::string& id : peers) lan_peers.push_back(peer_of[id]);
        options_.on_lan_peers(std::move(lan_peers));
      }
      if (options_.on_peers) options_.on_peers(peers);
    }
    pollfd p{fd_, POLLIN, 0};
    const absl::Duration until = std::min(next_probe, next_report) - absl::Now();
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(until), 1, 100));
    if (poll(&p, 1, wait_ms) <= 0) continue;
    char buf[1024];
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    absl::string_view datagram(buf, static_cast<size_t>(n));
    if (!absl::ConsumePrefix(&datagram, kProbePrefix)) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(datagram, ' ');
    const std::string id(fields[0]);
    if (id == options_.node_id || !ValidateNodeId(id).ok()) continue;
    heard[id] = absl::Now();
    LanPeer& peer = peer_of[id];
    char address[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, address, sizeof(address));
    peer.address = address;
    peer.gateway_groups.clear();
    for (size_t i = 1; i < fields.size(); ++i) {
      absl::string_view f = fields[i];
      if (!absl::ConsumePrefix(&f, "gw=")) continue;  // a later version's field
      for (absl::string_view g : absl::StrSplit(f, ',', absl::SkipEmpty())) {
        peer.gateway_groups.insert(std::string(g));
      }
    }
  }
}

}  // namespace canopy::node
