#include "node/gateway.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/address.h"
#include "node/gateway_envelope.h"
#include "node/multicast_channel.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"

namespace canopy::node {
namespace {

constexpr size_t kMaxDatagram = 65507;
// How long a new legacy sender's first datagrams wait for its tree.
constexpr absl::Duration kTreeWait = absl::Seconds(5);

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<GatewaySpec> ParseGatewaySpec(const std::string& text) {
  GatewaySpec spec;
  const size_t eq = text.find('=');
  spec.native_group = text.substr(0, eq);
  if (absl::StatusOr<sockaddr_in> g = ParseMulticastAddress(spec.native_group); !g.ok())
    return g.status();
  spec.canopy_group =
      eq == std::string::npos ? absl::StrCat("mcast/", spec.native_group) : text.substr(eq + 1);
  if (absl::Status s = ValidateGroupName(spec.canopy_group); !s.ok()) return s;
  return spec;
}

Gateway::Gateway(GatewayOptions options, Relay& relay, LocalClients& clients,
                 ForwardingState& state)
    : options_(std::move(options)), relay_(relay), clients_(clients), state_(state) {}

Gateway::~Gateway() { Stop(); }

absl::Status Gateway::Start() {
  absl::StatusOr<sockaddr_in> group = ParseMulticastAddress(options_.spec.native_group);
  if (!group.ok()) return group.status();
  in_addr interface {};
  if (inet_pton(AF_INET, options_.interface_address.c_str(), &interface) != 1 ||
      (ntohl(interface.s_addr) >> 24) == 127) {
    return absl::UnavailableError(
        absl::StrCat("a gateway needs a LAN IPv4 data address, not ", options_.interface_address));
  }
  capture_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  emit_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (capture_fd_ < 0 || emit_fd_ < 0) return Errno("socket");
  const int one = 1;
  sockaddr_in bind_to = *group;  // only datagrams sent to the group
  ip_mreq join{};
  join.imr_multiaddr = group->sin_addr;
  join.imr_interface = interface;
  const unsigned char ttl = static_cast<unsigned char>(std::clamp(options_.ttl, 1, 255));
  const unsigned char loop = 0;  // never hear our own emissions
  if (setsockopt(capture_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(capture_fd_, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) != 0 ||
      bind(capture_fd_, reinterpret_cast<sockaddr*>(&bind_to), sizeof(bind_to)) != 0 ||
      setsockopt(capture_fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) != 0 ||
      setsockopt(emit_fd_, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0 ||
      setsockopt(emit_fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0 ||
      setsockopt(emit_fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0) {
    return Errno(absl::StrCat("gateway for ", options_.spec.native_group, " on ",
                              options_.interface_address));
  }
  emit_ttl_ = ttl;
  scoped_ = options_.scope.Check(ntohl(group->sin_addr.s_addr));
  if (scoped_ != ScopeReason::kNone) {
    spdlog::warn("gateway: {} is scoped here ({}): it neither leaves nor enters this LAN",
                 options_.spec.native_group, std::string(ScopeReasonName(scoped_)));
  }
  v1::SourceFilter every;
  every.set_mode(v1::FILTER_MODE_EXCLUDE);
  subscription_ =
      std::make_shared<SubscriberQueue>(options_.spec.canopy_group, every, 8u << 20, 2u << 20);
  clients_.AddSubscriber(subscription_);
  capture_thread_ = std::thread([this] { Capture(); });
  emit_thread_ = std::thread([this] { Emit(); });
  spdlog::info("gateway: native {} <-> group {} (threshold {})", options_.spec.native_group,
               options_.spec.canopy_group, options_.threshold);
  return absl::OkStatus();
}

void Gateway::Stop() {
  stop_ = true;
  if (subscription_) subscription_->Close(absl::CancelledError("the gateway stops"));
  if (capture_thread_.joinable()) capture_thread_.join();
  if (emit_thread_.joinable()) emit_thread_.join();
  if (subscription_) {
    clients_.RemoveSubscriber(subscription_);
    subscription_.reset();
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& source : published_) {
    clients_.RemoveSource(options_.spec.canopy_group, source);
  }
  published_.clear();
  if (capture_fd_ >= 0) close(capture_fd_);
  if (emit_fd_ >= 0) close(emit_fd_);
  capture_fd_ = emit_fd_ = -1;
}

void Gateway::SetLanPeers(const std::vector<LanPeer>& peers) {
  auto numeric = [](const std::string& ip) {
    in_addr a{};
    inet_pton(AF_INET, ip.c_str(), &a);
    return ntohl(a.s_addr);
  };
  std::set<std::string> addresses;
  bool designated = true;
  for (const LanPeer& p : peers) {
    addresses.insert(p.address);
    if (p.gateway_groups.contains(options_.spec.native_group) &&
        numeric(p.address) < numeric(options_.interface_address)) {
      designated = false;
    }
  }
  absl::MutexLock lock(&mu_);
  lan_peers_ = std::move(addresses);
  if (designated != designated_) {
    spdlog::info("gateway for {}: {}", options_.spec.native_group,
                 designated ? "designated on this LAN" : "standing by for a lower address");
  }
  designated_ = designated;
}

void Gateway::CountKept(ScopeReason reason) {
  if (options_.counters != nullptr) options_.counters->CountKept(reason);
}

void Gateway::Capture() {
  std::vector<char> buf(kMaxDatagram);
  std::string wrapped;
  const std::string& group = options_.spec.canopy_group;
  uint16_t destination_port = 0;
  if (absl::StatusOr<sockaddr_in> native = ParseMulticastAddress(options_.spec.native_group);
      native.ok()) {
    destination_port = ntohs(native->sin_port);
  }
  while (!stop_) {
    pollfd p{capture_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    sockaddr_in from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(capture_fd_, &msg, 0);
    if (n < 0) continue;
    int ttl = -1;  // unknown: never crosses
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof(int));
      }
    }
    char sender[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &from.sin_addr, sender, sizeof(sender));
    const std::string source = sender;
    if (source == options_.interface_address) continue;  // our own
    bool is_new;
    {
      absl::MutexLock lock(&mu_);
      if (!designated_) continue;                 // another gateway of the LAN carries it
      if (lan_peers_.contains(source)) continue;  // another gateway's re-emission
      if (scoped_ != ScopeReason::kNone) {
        CountKept(scoped_);
        continue;
      }
      if (ttl <= options_.threshold) {
        CountKept(ScopeReason::kTtl);
        continue;
      }
      is_new = published_.insert(source).second;
    }
    if (static_cast<size_t>(n) + kEnvelopeBytes > options_.max_payload) continue;
    if (is_new) {
      // A new legacy sender: announce it as a source and wait (the
      // kernel holds what comes meanwhile) until its tree exists.
      clients_.AddSource(group, source);
      switch (state_.AwaitFlow(group, source, kTreeWait)) {
        case ForwardingState::FlowReadiness::kReady:
          spdlog::info("gateway: legacy sender {} on {} publishes into {}", source,
                       options_.spec.native_group, group);
          break;
        case ForwardingState::FlowReadiness::kRejected:
          spdlog::warn("gateway: legacy sender {} refused by group {}: {}", source, group,
                       state_.CheckAllowed(group, source).ToString());
          break;
        case ForwardingState::FlowReadiness::kTimedOut:
          spdlog::warn("gateway: no tree for legacy sender {} of group {} yet", source, group);
          break;
      }
    }
    if (!state_.CheckAllowed(group, source).ok()) continue;  // counted by the relay
    WrapDatagram({static_cast<uint8_t>(ttl), ntohs(from.sin_port), destination_port, {}},
                 absl::string_view(buf.data(), static_cast<size_t>(n)), wrapped);
    relay_.PublishLocal(group, source, wrapped);
    if (options_.counters != nullptr) options_.counters->CountCaptured();
  }
}

bool Gateway::SetEmitTtl(int ttl) {
  if (ttl == emit_ttl_) return true;
  const unsigned char value = static_cast<unsigned char>(ttl);
  if (setsockopt(emit_fd_, IPPROTO_IP, IP_MULTICAST_TTL, &value, sizeof(value)) != 0) {
    return false;
  }
  emit_ttl_ = ttl;
  return true;
}

void Gateway::Emit() {
  absl::StatusOr<sockaddr_in> to = ParseMulticastAddress(options_.spec.native_group);
  while (!stop_) {
    std::optional<DeliveryItem> item = subscription_->Pop(absl::Milliseconds(100));
    if (!item || item->frame == nullptr) continue;  // timeout, or the joined event
    {
      absl::MutexLock lock(&mu_);
      if (!designated_) continue;
      if (published_.contains(item->names->source)) continue;  // came from this LAN
    }
    if (scoped_ != ScopeReason::kNone) {
      CountKept(scoped_);
      continue;
    }
    absl::string_view payload = item->frame->payload();
    int ttl = std::clamp(options_.ttl, 1, 255);
    if (std::optional<Envelope> envelope = UnwrapDatagram(payload)) {
      // The overlay is one hop: the datagram goes on with one less, so it
      // never carries further than its sender meant.
      ttl = envelope->ttl - 1;
      payload = envelope->payload;
      if (ttl < 1) {
        CountKept(ScopeReason::kTtl);
        continue;
      }
    }
    if (!SetEmitTtl(ttl)) {
      spdlog::debug("gateway: TTL {} on {}: {}", ttl, options_.spec.native_group,
                    std::strerror(errno));
      continue;
    }
    if (sendto(emit_fd_, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&*to),
               sizeof(*to)) < 0) {
      spdlog::debug("gateway: re-emission to {} failed: {}", options_.spec.native_group,
                    std::strerror(errno));
    } else if (options_.counters != nullptr) {
      options_.counters->CountEmitted();
    }
  }
}

}  // namespace canopy::node
