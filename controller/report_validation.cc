#include "controller/report_validation.h"

#include "absl/strings/str_cat.h"
#include "base/address.h"
#include "controller/static_links.h"
#include "proto/network_coordinate.h"
#include "proto/validation.h"

namespace canopy::controller {

absl::Status ValidateHello(const v1::NodeHello& hello) {
  if (absl::Status s = ValidateNodeId(hello.node_id()); !s.ok()) return s;
  if (auto a = ParseHostPort(hello.data_address()); !a.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data_address: ", a.status().message()));
  }
  if (auto a = ParseHostPort(hello.client_address()); !a.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("client_address: ", a.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ValidateMembership(const v1::MembershipReport& report) {
  if (report.groups_size() > kMaxReportedGroups) {
    return absl::InvalidArgumentError(absl::StrCat("membership report lists ", report.groups_size(),
                                                   " groups; the limit is ", kMaxReportedGroups));
  }
  for (const v1::GroupMembership& m : report.groups()) {
    if (absl::Status s = ValidateGroupName(m.group()); !s.ok()) return s;
    if (absl::Status s = ValidateFilter(m.filter()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateSources(const v1::SourceReport& report) {
  if (report.sources_size() > kMaxReportedSources) {
    return absl::InvalidArgumentError(absl::StrCat("source report lists ", report.sources_size(),
                                                   " sources; the limit is ", kMaxReportedSources));
  }
  for (const v1::SourceKey& k : report.sources()) {
    if (absl::Status s = ValidateGroupName(k.group()); !s.ok()) return s;
    if (absl::Status s = ValidateSourceId(k.source()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateRtts(const v1::RttReport& report) {
  if (report.peers_size() > kMaxReportedRtts) {
    return absl::InvalidArgumentError(absl::StrCat("RTT report lists ", report.peers_size(),
                                                   " peers; the limit is ", kMaxReportedRtts));
  }
  for (const v1::PeerRtt& p : report.peers()) {
    if (absl::Status s = ValidateNodeId(p.node_id()); !s.ok()) return s;
    if (p.rtt_us() > static_cast<uint64_t>(kMaxStaticLinkCostUs)) {
      return absl::InvalidArgumentError(absl::StrCat("rtt_us ", p.rtt_us(), " to ", p.node_id(),
                                                     " is above ", kMaxStaticLinkCostUs));
    }
  }
  if (report.has_coordinate()) return ValidateCoordinate(report.coordinate());
  return absl::OkStatus();
}

absl::Status ValidateMulticastPeers(const v1::MulticastPeers& report) {
  if (report.node_ids_size() > kMaxReportedRtts) {
    return absl::InvalidArgumentError(absl::StrCat("multicast peer report lists ",
                                                   report.node_ids_size(), " nodes; the limit is ",
                                                   kMaxReportedRtts));
  }
  for (const std::string& id : report.node_ids()) {
    if (absl::Status s = ValidateNodeId(id); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateTraffic(const v1::TrafficReport& report) {
  if (report.flows_size() > kMaxReportedSources) {
    return absl::InvalidArgumentError(absl::StrCat("traffic report lists ", report.flows_size(),
                                                   " flows; the limit is ", kMaxReportedSources));
  }
  if (report.links_size() > kMaxReportedRtts) {
    return absl::InvalidArgumentError(absl::StrCat("traffic report lists ", report.links_size(),
                                                   " links; the limit is ", kMaxReportedRtts));
  }
  for (const v1::FlowTraffic& f : report.flows()) {
    if (absl::Status s = ValidateGroupName(f.group()); !s.ok()) return s;
    if (absl::Status s = ValidateSourceId(f.source()); !s.ok()) return s;
  }
  for (const v1::LinkTraffic& l : report.links()) {
    if (absl::Status s = ValidateNodeId(l.node_id()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace canopy::controller
