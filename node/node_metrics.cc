#include "node/node_metrics.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace canopy::node {
namespace {

using ops::Family;
using ops::MetricType;
using ops::Sample;
using ops::SingleSampleFamily;

// One family with a sample per group.
Family PerGroup(std::string name, std::string help, MetricType type,
                const TrafficCounters::Snapshot& snapshot,
                uint64_t TrafficCounters::GroupTotals::*field) {
  Family family{std::move(name), std::move(help), type, {}};
  for (const auto& [group, totals] : snapshot.groups) {
    family.samples.push_back(Sample{"", {{"group", group}}, static_cast<double>(totals.*field)});
  }
  return family;
}

// `live_groups`: the groups whose gauges are exported (those that ended
// keep their counters but lose their gauges).
void CollectTraffic(const TrafficCounters& traffic, const std::set<std::string>& live_groups,
                    std::vector<Family>& out) {
  const TrafficCounters::Snapshot t = traffic.Take();
  using Totals = TrafficCounters::GroupTotals;
  out.push_back(PerGroup("canopy_node_received_bytes_total",
                         "Payload bytes of the group's frames that entered this node (from a "
                         "parent link or a local publisher).",
                         MetricType::kCounter, t, &Totals::bytes_in));
  out.push_back(PerGroup("canopy_node_received_frames_total",
                         "Frames of the group that entered this node.", MetricType::kCounter, t,
                         &Totals::frames_in));
  out.push_back(PerGroup("canopy_node_sent_bytes_total",
                         "Payload bytes of the group's frames sent to child links and local "
                         "subscribers (each copy counts).",
                         MetricType::kCounter, t, &Totals::bytes_out));
  out.push_back(PerGroup("canopy_node_sent_frames_total",
                         "Frame copies of the group sent to child links and local subscribers.",
                         MetricType::kCounter, t, &Totals::frames_out));
  Family drops{"canopy_node_dropped_frames_total",
               "Frames of the group dropped at this node, by reason: duplicate, "
               "realtime_overflow, disallowed, unknown_flow, detached, not_from_parent (DATA, GAP "
               "RESUME or ACK_SUMMARY from a link the table does not name for that role).",
               MetricType::kCounter,
               {}};
  for (const auto& [group, totals] : t.groups) {
    for (size_t i = 0; i < kDropReasonCount; ++i) {
      drops.samples.push_back(Sample{
          "",
          {{"group", group}, {"reason", std::string(DropReasonName(static_cast<DropReason>(i)))}},
          static_cast<double>(totals.drops[i])});
    }
  }
  out.push_back(std::move(drops));
  Family rings = PerGroup("canopy_node_replay_ring_bytes",
                          "Bytes held in the replay rings of the group's flows.",
                          MetricType::kGauge, t, &Totals::replay_bytes);
  std::erase_if(rings.samples,
                [&](const Sample& s) { return !live_groups.contains(s.labels.front().second); });
  out.push_back(std::move(rings));
  Family links{"canopy_node_link_queue_bytes",
               "Bytes queued on the data link to a child node.",
               MetricType::kGauge,
               {}};
  for (const auto& [peer, bytes] : t.link_queue_bytes) {
    links.samples.push_back(Sample{"", {{"peer", peer}}, static_cast<double>(bytes)});
  }
  out.push_back(std::move(links));
  out.push_back(SingleSampleFamily(
      "canopy_node_subscriber_queue_bytes", "Bytes queued for all local subscribers together.",
      MetricType::kGauge, static_cast<double>(t.subscriber_queue_bytes)));
}

}  // namespace

NodeMetrics::NodeMetrics(ops::MetricsRegistry& registry, const ForwardingState& state,
                         const LocalClients& clients, const TrafficCounters& traffic)
    : attaches_(registry.AddCounter("canopy_node_controller_attaches_total",
                                    "Times the node attached to the controller (first attach "
                                    "and every reattach after a lost stream).")) {
  attaches_.Increment({}, 0);  // present from the first scrape
  registry.AddCollector([this, &state, &clients, &traffic](std::vector<Family>& out) {
    out.push_back(SingleSampleFamily("canopy_node_attached",
                                     "1 while the node is attached to the controller, else 0.",
                                     MetricType::kGauge, attached_.load() ? 1 : 0));
    out.push_back(SingleSampleFamily("canopy_node_table_version",
                                     "Version of the applied forwarding table (0 before the first; "
                                     "versions restart with each controller session).",
                                     MetricType::kGauge, static_cast<double>(state.version())));
    out.push_back(SingleSampleFamily("canopy_node_flows", "Flows in the applied forwarding table.",
                                     MetricType::kGauge,
                                     static_cast<double>(state.Entries().size())));
    Family subscribers{"canopy_node_local_subscribers",
                       "Local subscriptions (SDK clients) of the group.",
                       MetricType::kGauge,
                       {}};
    Family publishers{"canopy_node_local_publishers",
                      "Local publishers (SDK clients) of the group.",
                      MetricType::kGauge,
                      {}};
    for (const auto& [group, counts] : clients.CountsByGroup()) {
      subscribers.samples.push_back(
          Sample{"", {{"group", group}}, static_cast<double>(counts.subscribers)});
      publishers.samples.push_back(
          Sample{"", {{"group", group}}, static_cast<double>(counts.publishers)});
    }
    out.push_back(std::move(subscribers));
    out.push_back(std::move(publishers));
    // Groups with flows in the table or local clients now.
    std::set<std::string> live_groups;
    for (const v1::FlowEntry& e : state.Entries()) live_groups.insert(e.group());
    for (const auto& [group, counts] : clients.CountsByGroup()) live_groups.insert(group);
    CollectTraffic(traffic, live_groups, out);
  });
}

void NodeMetrics::AddRelay(ops::MetricsRegistry& registry, const Relay& relay) {
  registry.AddCollector([&relay](std::vector<Family>& out) {
    const RelayCounters c = relay.counters();
    out.push_back(
        SingleSampleFamily("canopy_node_resumes_sent_total",
                           "RESUME requests this node sent to a parent (a gap, a new parent, or a "
                           "child's repair it could not serve from its own ring).",
                           MetricType::kCounter, static_cast<double>(c.resumes_sent)));
    out.push_back(SingleSampleFamily("canopy_node_resumes_served_total",
                                     "RESUME requests from children this node served.",
                                     MetricType::kCounter, static_cast<double>(c.resumes_served)));
    out.push_back(SingleSampleFamily(
        "canopy_node_resumes_held_total",
        "RESUME requests that came before this node's table named their sender a child of the "
        "flow; held and served once the table caught up.",
        MetricType::kCounter, static_cast<double>(c.resumes_held)));
    out.push_back(SingleSampleFamily("canopy_node_frames_replayed_total",
                                     "Frames sent again from the replay ring.",
                                     MetricType::kCounter, static_cast<double>(c.frames_replayed)));
    out.push_back(
        SingleSampleFamily("canopy_node_out_of_order_dropped_total",
                           "Frames dropped because an earlier sequence was missing; they are "
                           "resent after a RESUME.",
                           MetricType::kCounter, static_cast<double>(c.out_of_order_dropped)));
    out.push_back(
        SingleSampleFamily("canopy_node_sequences_lost_total",
                           "Sequences declared lost (GAP) by or through this node: no node held "
                           "them any more.",
                           MetricType::kCounter, static_cast<double>(c.sequences_lost)));
    Family multicast{"canopy_node_multicast_frames_total",
                     "Frames this node sent once by LAN multicast as a designated forwarder "
                     "(direction=\"sent\") or received that way (direction=\"received\").",
                     MetricType::kCounter,
                     {}};
    multicast.samples.push_back(
        Sample{"", {{"direction", "sent"}}, static_cast<double>(c.multicast_frames_sent)});
    multicast.samples.push_back(Sample{"",
                                       {{"direction", "received"}},
                                       static_cast<double>(c.multicast_frames_received)});
    out.push_back(std::move(multicast));
    out.push_back(SingleSampleFamily(
        "canopy_node_multicast_repairs_asked_total",
        "Ranges lost on the LAN that this node asked its forwarder for over the unicast link.",
        MetricType::kCounter, static_cast<double>(c.multicast_repairs_asked)));
  });
}

void NodeMetrics::AddRefusals(ops::MetricsRegistry& registry, const Relay& relay,
                              const ClientService& service) {
  registry.AddCollector([&relay, &service](std::vector<Family>& out) {
    const ClientRefusals calls = service.refusals();
    const RelayCounters links = relay.counters();
    Family refused{"canopy_node_refused_total",
                   "Data links and client calls refused: over a limit (links: "
                   "--max-links-per-peer; subscriptions; publishers), data links whose TLS "
                   "handshake failed (link_tls) or whose certificate is not the node their HELLO "
                   "names (link_identity), data links that said no HELLO within 5 s (link_hello), "
                   "and connections to offered client links that were "
                   "closed (client_links: wrong token, no TLS, not the caller's certificate).",
                   MetricType::kCounter,
                   {}};
    refused.samples.push_back(
        Sample{"", {{"reason", "links"}}, static_cast<double>(links.links_refused)});
    refused.samples.push_back(
        Sample{"", {{"reason", "link_tls"}}, static_cast<double>(links.links_refused_tls)});
    refused.samples.push_back(Sample{
        "", {{"reason", "link_identity"}}, static_cast<double>(links.links_refused_identity)});
    refused.samples.push_back(Sample{
        "", {{"reason", "link_hello"}}, static_cast<double>(links.links_refused_no_hello)});
    refused.samples.push_back(
        Sample{"", {{"reason", "client_links"}}, static_cast<double>(calls.client_links)});
    refused.samples.push_back(
        Sample{"", {{"reason", "subscriptions"}}, static_cast<double>(calls.subscriptions)});
    refused.samples.push_back(
        Sample{"", {{"reason", "publishers"}}, static_cast<double>(calls.publishers)});
    out.push_back(std::move(refused));
  });
}

void NodeMetrics::AddGateways(ops::MetricsRegistry& registry, const GatewayCounters& counters) {
  registry.AddCollector([&counters](std::vector<Family>& out) {
    out.push_back(SingleSampleFamily("canopy_node_gateway_captured_total",
                                     "Native datagrams of this LAN's legacy senders that gateways "
                                     "carried into the overlay.",
                                     MetricType::kCounter, static_cast<double>(counters.captured())));
    out.push_back(SingleSampleFamily("canopy_node_gateway_emitted_total",
                                     "Messages from the overlay that gateways re-emitted on this "
                                     "LAN as native datagrams.",
                                     MetricType::kCounter, static_cast<double>(counters.emitted())));
    Family kept{"canopy_node_gateway_kept_total",
                "Native datagrams gateways kept on their LAN for scope: TTL not above "
                "--gateway-threshold (ttl), 224.0.0.0/24 (link_local), 239.255.0.0/16 "
                "(local_scope), a --boundary range (boundary).",
                MetricType::kCounter,
                {}};
    for (ScopeReason reason : {ScopeReason::kTtl, ScopeReason::kLinkLocal,
                               ScopeReason::kLocalScope, ScopeReason::kBoundary}) {
      kept.samples.push_back(Sample{"", {{"reason", std::string(ScopeReasonName(reason))}},
                                    static_cast<double>(counters.kept(reason))});
    }
    out.push_back(std::move(kept));
    Family igmp{"canopy_node_gateway_igmp_messages_total",
                "IGMP messages an IGMP-driven gateway (--gateway-auto) heard on its LAN: "
                "accepted, malformed (truncated, bad checksum, unknown type), spoofed (not from "
                "the LAN, or a TTL other than 1), refused (over --igmp-max-groups or "
                "--igmp-max-sources).",
                MetricType::kCounter,
                {}};
    using Igmp = GatewayCounters::Igmp;
    for (auto [what, name] : {std::pair{Igmp::kAccepted, "accepted"}, {Igmp::kMalformed, "malformed"},
                              {Igmp::kSpoofed, "spoofed"}, {Igmp::kRefused, "refused"}}) {
      igmp.samples.push_back(
          Sample{"", {{"outcome", name}}, static_cast<double>(counters.igmp(what))});
    }
    out.push_back(std::move(igmp));
    out.push_back(SingleSampleFamily("canopy_node_gateway_learned_groups",
                                     "Native groups with listeners on this LAN, learned from "
                                     "IGMP reports (--gateway-auto).",
                                     MetricType::kGauge,
                                     static_cast<double>(counters.learned_groups())));
  });
}

void NodeMetrics::SetAttached(bool attached) {
  if (attached && !attached_.exchange(true)) attaches_.Increment({});
  if (!attached) attached_.store(false);
}

}  // namespace canopy::node
