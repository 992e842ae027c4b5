#include "node/auto_gateway.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "node/gateway_envelope.h"
#include "node/igmp_packet.h"
#include "node/native_packet.h"
#include "proto/source_filter.h"
#include "spdlog/spdlog.h"

namespace canopy::node {
namespace {

constexpr size_t kMaxPacket = 65535;
// How long a new legacy sender's first datagrams wait for its tree (the
// packet socket's buffer holds what comes meanwhile).
constexpr absl::Duration kTreeWait = absl::Seconds(5);
constexpr int kReceiveBuffer = 16 << 20;
constexpr int kMaxItemsPerTurn = 64;
constexpr uint32_t kAllHosts = 0xE0000001;  // 224.0.0.1

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

sockaddr_in To(uint32_t address) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(address);
  return to;
}

}  // namespace

std::string AutoGroupName(uint32_t group) { return absl::StrCat("mcast/", FormatIpv4(group)); }

AutoGateway::AutoGateway(AutoGatewayOptions options, Relay& relay, LocalClients& clients,
                         ForwardingState& state)
    : options_(std::move(options)),
      relay_(relay),
      clients_(clients),
      state_(state),
      membership_(options_.timers, options_.served, options_.max_groups, options_.max_sources) {}

AutoGateway::~AutoGateway() { Stop(); }

absl::Status AutoGateway::Start() {
  absl::StatusOr<uint32_t> address = ParseIpv4(options_.interface_address);
  if (!address.ok() || (*address >> 24) == 127) {
    return absl::UnavailableError(absl::StrCat(
        "an IGMP-driven gateway needs a LAN IPv4 data address, not ", options_.interface_address));
  }
  interface_ = *address;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Errno("getifaddrs");
  std::string name;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (ntohl(in->sin_addr.s_addr) != interface_) continue;
    name = a->ifa_name;
    if (a->ifa_netmask != nullptr) {
      netmask_ = ntohl(reinterpret_cast<const sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr);
    }
  }
  freeifaddrs(list);
  if (name.empty()) {
    return absl::UnavailableError(
        absl::StrCat("no interface has the address ", options_.interface_address));
  }
  ifindex_ = static_cast<int>(if_nametoindex(name.c_str()));
  packet_fd_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
  if (packet_fd_ < 0) return Errno("packet socket (needs CAP_NET_RAW)");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(packet_fd_, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 576) {
    mtu_ = static_cast<size_t>(ifr.ifr_mtu);
  }
  sockaddr_ll bind_to{};
  bind_to.sll_family = AF_PACKET;
  bind_to.sll_protocol = htons(ETH_P_IP);
  bind_to.sll_ifindex = ifindex_;
  packet_mreq all_multicast{};
  all_multicast.mr_ifindex = ifindex_;
  all_multicast.mr_type = PACKET_MR_ALLMULTI;
  if (bind(packet_fd_, reinterpret_cast<sockaddr*>(&bind_to), sizeof(bind_to)) != 0 ||
      setsockopt(packet_fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &all_multicast,
                 sizeof(all_multicast)) != 0) {
    return Errno(absl::StrCat("packet socket on ", name));
  }
  // Only multicast destinations reach the socket (the LAN's unicast, the
  // overlay's own links among it, stays in the kernel): the first byte of
  // the IPv4 destination, at offset 16, is 1110xxxx.
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 16),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xF0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xE0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0xFFFF),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof(code) / sizeof(code[0])), code};
  const int one = 1;
  if (setsockopt(packet_fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0 ||
      setsockopt(packet_fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) != 0) {
    return Errno("packet filter");
  }
  // Best effort: the buffer holds a burst while a new sender's tree forms.
  setsockopt(packet_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof(kReceiveBuffer));
  raw_fd_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  igmp_fd_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_IGMP);
  if (raw_fd_ < 0 || igmp_fd_ < 0) return Errno("raw socket (needs CAP_NET_RAW)");
  const in_addr interface{htonl(interface_)};
  const unsigned char loop = 0, one_hop = 1;
  const unsigned char router_alert[4] = {148, 4, 0, 0};
  for (int fd : {raw_fd_, igmp_fd_}) {
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof(interface)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) != 0) {
      return Errno("raw socket options");
    }
  }
  if (setsockopt(igmp_fd_, IPPROTO_IP, IP_MULTICAST_TTL, &one_hop, sizeof(one_hop)) != 0 ||
      setsockopt(igmp_fd_, IPPROTO_IP, IP_OPTIONS, router_alert, sizeof(router_alert)) != 0) {
    return Errno("IGMP socket options");
  }
  startup_queries_left_ = options_.timers.robustness;
  capture_thread_ = std::thread([this] { Capture(); });
  emit_thread_ = std::thread([this] { Emit(); });
  std::string ranges;
  for (const Ipv4Range& r : options_.served) absl::StrAppend(&ranges, ranges.empty() ? "" : " ", r.ToString());
  spdlog::info("gateway: IGMP-driven on {} for {} (threshold {})", name, ranges,
               options_.threshold);
  return absl::OkStatus();
}

void AutoGateway::Stop() {
  stop_ = true;
  {
    absl::MutexLock lock(&wake_mu_);
    wake_ = true;
  }
  if (capture_thread_.joinable()) capture_thread_.join();
  if (emit_thread_.joinable()) emit_thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [group, queue] : subscriptions_) {
    queue->Close(absl::CancelledError("the gateway stops"));
    clients_.RemoveSubscriber(queue);
  }
  subscriptions_.clear();
  for (const auto& [group, source] : published_) clients_.RemoveSource(AutoGroupName(group), source);
  published_.clear();
  for (int* fd : {&packet_fd_, &raw_fd_, &igmp_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void AutoGateway::SetLanPeers(const std::vector<LanPeer>& peers) {
  std::set<uint32_t> addresses;
  bool designated = true;
  for (const LanPeer& p : peers) {
    absl::StatusOr<uint32_t> a = ParseIpv4(p.address);
    if (!a.ok()) continue;
    addresses.insert(*a);
    if (p.gateway_groups.contains("auto") && *a < interface_) designated = false;
  }
  absl::MutexLock lock(&mu_);
  lan_peers_ = std::move(addresses);
  if (designated != designated_) {
    spdlog::info("gateway (IGMP-driven): {}",
                 designated ? "designated on this LAN" : "standing by for a lower address");
    designated_ = designated;
    SyncSubscriptions();
  }
}

std::map<uint32_t, std::map<uint32_t, v1::SourceFilter>> AutoGateway::Listeners() const {
  absl::MutexLock lock(&mu_);
  return membership_.Listeners();
}

bool AutoGateway::OnLan(uint32_t address) const {
  return netmask_ != 0 && (address & netmask_) == (interface_ & netmask_);
}

void AutoGateway::CountKept(ScopeReason reason) {
  if (options_.counters != nullptr) options_.counters->CountKept(reason);
}

void AutoGateway::Capture() {
  std::vector<char> buf(kMaxPacket);
  while (!stop_) {
    pollfd p{packet_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, 50);
    const absl::Time now = absl::Now();
    if (ready > 0) {
      for (int i = 0; i < 256; ++i) {  // a bounded batch, then the timers
        sockaddr_ll from{};
        iovec iov{buf.data(), buf.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(tpacket_auxdata))] = {};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        const ssize_t n = recvmsg(packet_fd_, &msg, MSG_DONTWAIT);
        if (n < 0) break;
        if (from.sll_pkttype == PACKET_OUTGOING) continue;  // what this host sent
        bool checksum_ready = true;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
              c->cmsg_len >= CMSG_LEN(sizeof(tpacket_auxdata))) {
            tpacket_auxdata aux;
            std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
            checksum_ready = (aux.tp_status & TP_STATUS_CSUMNOTREADY) == 0;
          }
        }
        HandlePacket(absl::string_view(buf.data(), static_cast<size_t>(n)), checksum_ready, now);
      }
    }
    Tick(absl::Now());
  }
}

void AutoGateway::HandlePacket(absl::string_view bytes, bool checksum_ready, absl::Time now) {
  absl::StatusOr<Ipv4Packet> packet = ParseIpv4Packet(bytes);
  if (!packet.ok()) {
    if (bytes.size() > 9 && static_cast<uint8_t>(bytes[9]) == kProtocolIgmp &&
        options_.counters != nullptr) {
      options_.counters->CountIgmp(GatewayCounters::Igmp::kMalformed);
    }
    return;
  }
  if (!IsMulticast(packet->destination)) return;
  if (packet->protocol == kProtocolIgmp) {
    HandleIgmp(packet->source, packet->ttl, packet->payload, now);
    return;
  }
  if (packet->protocol != kProtocolUdp || packet->fragment) return;
  absl::StatusOr<UdpDatagram> udp = ParseUdp(*packet, checksum_ready);
  if (!udp.ok()) return;
  HandleUdp(packet->source, packet->destination, packet->ttl, udp->source_port,
            udp->destination_port, udp->payload);
}

void AutoGateway::HandleIgmp(uint32_t source, uint8_t ttl, absl::string_view igmp,
                             absl::Time now) {
  using Igmp = GatewayCounters::Igmp;
  auto count = [this](Igmp what) {
    if (options_.counters != nullptr) options_.counters->CountIgmp(what);
  };
  if (source == interface_) return;
  // IGMP never leaves its link: TTL 1, from an address of the LAN (or
  // 0.0.0.0, a host without one yet, which reports nothing we keep).
  if (ttl != 1 || !OnLan(source)) {
    count(Igmp::kSpoofed);
    return;
  }
  absl::StatusOr<IgmpMessage> message = ParseIgmp(igmp);
  if (!message.ok()) {
    count(Igmp::kMalformed);
    return;
  }
  count(Igmp::kAccepted);
  if (message->type == IgmpType::kQuery) {
    if (source < interface_) {
      // A querier with a lower address: it queries, this one listens.
      other_querier_until_ = now + options_.timers.OtherQuerierPresentInterval();
    }
    return;
  }
  absl::MutexLock lock(&mu_);
  // Canopy nodes' own memberships (discovery, LAN multicast of the
  // overlay) are not listeners of legacy groups.
  if (lan_peers_.contains(source)) return;
  const IgmpMembership::Outcome outcome = membership_.Apply(source, *message, now);
  if (outcome.refused > 0) {
    for (uint64_t i = 0; i < outcome.refused; ++i) count(Igmp::kRefused);
    if (!refusal_logged_) {
      refusal_logged_ = true;
      spdlog::warn("gateway: {} refused IGMP state from {} (over --igmp-max-groups {} or "
                   "--igmp-max-sources {}); further refusals are only counted",
                   outcome.refused, FormatIpv4(source), options_.max_groups, options_.max_sources);
    }
  }
  for (uint32_t g : outcome.query_groups) to_query_.push_back(g);
  if (outcome.changed) SyncSubscriptions();
}

void AutoGateway::HandleUdp(uint32_t source, uint32_t group, uint8_t ttl, uint16_t source_port,
                            uint16_t destination_port, absl::string_view payload) {
  if (source == interface_ || !OnLan(source)) return;  // ours, or a gateway's re-emission
  if (options_.static_groups.contains(group)) return;
  const ScopeReason scoped = options_.scope.Check(group);
  bool served = false;
  for (const Ipv4Range& r : options_.served) served = served || r.Contains(group);
  if (!served) {
    // Scoped ranges are never served: count what a legacy sender sent there
    // (not the Canopy nodes' own discovery probes).
    if (scoped != ScopeReason::kNone && scoped != ScopeReason::kLinkLocal) {
      absl::MutexLock lock(&mu_);
      if (!lan_peers_.contains(source)) CountKept(scoped);
    }
    return;
  }
  const std::string sender = FormatIpv4(source);
  const std::string name = AutoGroupName(group);
  bool is_new;
  {
    absl::MutexLock lock(&mu_);
    if (!designated_ || lan_peers_.contains(source)) return;
    if (ttl <= options_.threshold) {
      CountKept(ScopeReason::kTtl);
      return;
    }
    is_new = published_.insert({group, sender}).second;
  }
  if (payload.size() + kEnvelopeBytes > options_.max_payload) return;
  if (is_new) {
    clients_.AddSource(name, sender);
    switch (state_.AwaitFlow(name, sender, kTreeWait)) {
      case ForwardingState::FlowReadiness::kReady:
        spdlog::info("gateway: legacy sender {} publishes into {}", sender, name);
        break;
      case ForwardingState::FlowReadiness::kRejected:
        spdlog::warn("gateway: legacy sender {} refused by group {}: {}", sender, name,
                     state_.CheckAllowed(name, sender).ToString());
        break;
      case ForwardingState::FlowReadiness::kTimedOut:
        spdlog::warn("gateway: no tree for legacy sender {} of group {} yet", sender, name);
        break;
    }
  }
  if (!state_.CheckAllowed(name, sender).ok()) return;
  std::string wrapped;
  WrapDatagram({ttl, source_port, destination_port, {}}, payload, wrapped);
  relay_.PublishLocal(name, sender, wrapped);
  if (options_.counters != nullptr) options_.counters->CountCaptured();
}

void AutoGateway::Tick(absl::Time now) {
  std::vector<uint32_t> to_query;
  {
    absl::MutexLock lock(&mu_);
    if (membership_.Expire(now)) SyncSubscriptions();
    to_query.swap(to_query_);
    if (options_.counters != nullptr) {
      options_.counters->SetLearnedGroups(membership_.Groups().size());
    }
  }
  const bool querier = options_.querier && now >= other_querier_until_;
  // A leave: the group-specific query now and Last Member Query Count - 1
  // more, an interval apart (RFC 3376 §6.6.3.1).
  for (uint32_t g : to_query) {
    for (int i = 0; i < options_.timers.robustness; ++i) {
      pending_queries_.push_back({now + i * options_.timers.last_member_query_interval, g});
    }
  }
  for (auto it = pending_queries_.begin(); it != pending_queries_.end();) {
    if (it->first > now) {
      ++it;
      continue;
    }
    if (querier) SendQuery(it->second);
    it = pending_queries_.erase(it);
  }
  if (querier && now >= next_general_query_) {
    SendQuery(0);
    // Startup: Robustness queries a quarter interval apart (§8.6, §8.7).
    const bool startup = startup_queries_left_ > 0;
    if (startup) --startup_queries_left_;
    next_general_query_ =
        now + (startup ? options_.timers.query_interval / 4 : options_.timers.query_interval);
  }
}

void AutoGateway::SendQuery(uint32_t group) {
  const std::string query =
      EncodeIgmpV3Query(group, {},
                        group == 0 ? options_.timers.query_response_interval
                                   : options_.timers.last_member_query_interval,
                        false, options_.timers.robustness, options_.timers.query_interval);
  const sockaddr_in to = To(group == 0 ? kAllHosts : group);
  if (sendto(igmp_fd_, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof(to)) < 0) {
    spdlog::debug("gateway: IGMP query not sent: {}", std::strerror(errno));
  }
}

void AutoGateway::SyncSubscriptions() {
  std::map<uint32_t, v1::SourceFilter> wanted;
  if (designated_) wanted = membership_.Groups();
  for (uint32_t g : options_.static_groups) wanted.erase(g);
  for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() &&
        w->second.SerializeAsString() == it->second->filter().SerializeAsString()) {
      ++it;
      continue;
    }
    it->second->Close(absl::CancelledError("listeners changed"));
    clients_.RemoveSubscriber(it->second);
    if (w == wanted.end()) {
      spdlog::info("gateway: no listeners for {} on this LAN any more: leaving {}",
                   FormatIpv4(it->first), AutoGroupName(it->first));
    }
    it = subscriptions_.erase(it);
  }
  for (const auto& [group, filter] : wanted) {
    if (subscriptions_.contains(group)) continue;
    auto queue = std::make_shared<SubscriberQueue>(AutoGroupName(group), filter, 8u << 20,
                                                   2u << 20);
    clients_.AddSubscriber(queue);
    subscriptions_[group] = queue;
    spdlog::info("gateway: listeners for {} on this LAN: joining {} ({} {} source(s))",
                 FormatIpv4(group), AutoGroupName(group),
                 filter.mode() == v1::FILTER_MODE_EXCLUDE ? "EXCLUDE" : "INCLUDE",
                 filter.sources_size());
  }
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

void AutoGateway::Emit() {
  while (!stop_) {
    std::vector<std::pair<uint32_t, std::shared_ptr<SubscriberQueue>>> queues;
    {
      absl::MutexLock lock(&mu_);
      queues.assign(subscriptions_.begin(), subscriptions_.end());
    }
    bool any = false;
    for (auto& [group, queue] : queues) {
      for (int i = 0; i < kMaxItemsPerTurn; ++i) {
        std::optional<DeliveryItem> item = queue->Pop(absl::ZeroDuration());
        if (!item) break;
        any = true;
        EmitItem(group, *item);
      }
    }
    if (any) continue;
    for (auto& [group, queue] : queues) {
      queue->NotifyWhenNonEmpty([this] {
        absl::MutexLock lock(&wake_mu_);
        wake_ = true;
      });
    }
    absl::MutexLock lock(&wake_mu_);
    wake_mu_.AwaitWithTimeout(absl::Condition(&wake_), absl::Milliseconds(100));
    wake_ = false;
  }
}

void AutoGateway::EmitItem(uint32_t group, const DeliveryItem& item) {
  if (item.frame == nullptr || item.names == nullptr) return;  // an event
  const std::string& sender = item.names->source;
  {
    absl::MutexLock lock(&mu_);
    if (!designated_) return;
    if (published_.contains({group, sender})) return;  // came from this LAN
  }
  const ScopeReason scoped = options_.scope.Check(group);
  if (scoped != ScopeReason::kNone) {
    CountKept(scoped);
    return;
  }
  std::optional<Envelope> envelope = UnwrapDatagram(item.frame->payload());
  if (!envelope) return;  // not a legacy sender's datagram: no port to send it to
  if (envelope->ttl <= 1) {
    CountKept(ScopeReason::kTtl);
    return;
  }
  // The original sender's address where it is one, so source filters (SSM)
  // on this LAN see who sent it.
  absl::StatusOr<uint32_t> from = ParseIpv4(sender);
  UdpSend send;
  send.source = from.ok() ? *from : interface_;
  send.source_port = envelope->source_port;
  send.destination = group;
  send.destination_port = envelope->destination_port;
  send.ttl = static_cast<uint8_t>(envelope->ttl - 1);
  send.id = next_id_++;
  absl::StatusOr<std::vector<std::string>> packets =
      EncodeUdpPackets(send, envelope->payload, mtu_);
  if (!packets.ok()) return;
  const sockaddr_in to = To(group);
  for (const std::string& p : *packets) {
    if (sendto(raw_fd_, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to),
               sizeof(to)) < 0) {
      spdlog::debug("gateway: re-emission to {} failed: {}", FormatIpv4(group),
                    std::strerror(errno));
      return;
    }
  }
  if (options_.counters != nullptr) options_.counters->CountEmitted();
}

}  // namespace canopy::node
