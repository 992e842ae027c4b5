// Writes the seed corpus of proto_entry_fuzzer: one file per request kind
// and notable case, each a selector byte (proto_entry_selector.h) followed by
// the serialized request, or by the JSON text of a policies file. The
// requests name the fuzzer's overlay (nodes n1..n3, groups g, gc and gb,
// source s1) so that the seeds reach the controller's handling code.
//
//   gen_proto_corpus <dir>
//
// The committed seeds in tests/fuzz/corpus/proto_entry/ are this tool's
// output; run_fuzzer.sh regenerates them into the build directory on every
// run and warns when the committed copy differs (e.g. after a .proto change).

#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "canopy/v1/common.pb.h"
#include "canopy/v1/controller.pb.h"
#include "canopy/v1/node.pb.h"
#include "google/protobuf/message.h"
#include "tests/fuzz/proto_entry_selector.h"

namespace {

namespace v1 = canopy::v1;
using canopy::fuzz::ProtoEntrySelector;
using enum canopy::fuzz::ProtoEntrySelector;

std::string Seed(ProtoEntrySelector selector, const google::protobuf::Message& message) {
  std::string bytes(1, static_cast<char>(selector));
  bytes += message.SerializeAsString();
  return bytes;
}

std::string Json(const std::string& text) {
  return std::string(1, static_cast<char>(kPolicyFile)) + text;
}

v1::NodeReport Hello(const std::string& id, const std::string& data, uint32_t max_fanout = 0,
                     uint64_t upload_bps = 0) {
  v1::NodeReport report;
  v1::NodeHello* hello = report.mutable_hello();
  hello->set_node_id(id);
  hello->set_data_address(data);
  hello->set_client_address("127.0.0.1:7100");
  hello->set_max_fanout(max_fanout);
  hello->set_upload_bps(upload_bps);
  return report;
}

v1::SourceFilter Filter(v1::FilterMode mode, const std::vector<std::string>& sources) {
  v1::SourceFilter filter;
  filter.set_mode(mode);
  for (const std::string& s : sources) filter.add_sources(s);
  return filter;
}

v1::NodeReport Membership(const std::vector<std::pair<std::string, v1::SourceFilter>>& groups) {
  v1::NodeReport report;
  v1::MembershipReport* m = report.mutable_membership();
  m->set_report_seq(7);
  for (const auto& [group, filter] : groups) {
    v1::GroupMembership* gm = m->add_groups();
    gm->set_group(group);
    *gm->mutable_filter() = filter;
  }
  return report;
}

v1::NodeReport Sources(const std::vector<std::pair<std::string, std::string>>& keys) {
  v1::NodeReport report;
  for (const auto& [group, source] : keys) {
    v1::SourceKey* k = report.mutable_sources()->add_sources();
    k->set_group(group);
    k->set_source(source);
  }
  return report;
}

v1::NodeReport Rtts(const std::vector<std::pair<std::string, uint64_t>>& peers) {
  v1::NodeReport report;
  for (const auto& [node, rtt] : peers) {
    v1::PeerRtt* p = report.mutable_rtts()->add_peers();
    p->set_node_id(node);
    p->set_rtt_us(rtt);
  }
  return report;
}

v1::GetTreeRequest TreeRequest(const std::string& group, const std::string& source = "") {
  v1::GetTreeRequest request;
  request.set_group(group);
  request.set_source(source);
  return request;
}

template <typename M>
M WithGroup(const std::string& group) {
  M m;
  m.set_group(group);
  return m;
}

v1::GroupPolicy Policy(const std::string& group, const std::vector<std::string>& allowed,
                       v1::TreeProfile profile, uint32_t ttl, int slow_receiver) {
  v1::GroupPolicy policy;
  policy.set_group(group);
  for (const std::string& s : allowed) policy.add_allowed_sources(s);
  policy.set_profile(profile);
  policy.set_ttl(ttl);
  policy.set_slow_receiver(static_cast<v1::SlowReceiverPolicy>(slow_receiver));
  return policy;
}

v1::SubscribeRequest Subscription(const std::string& group, const v1::SourceFilter& filter) {
  v1::SubscribeRequest request;
  request.set_group(group);
  *request.mutable_filter() = filter;
  return request;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gen_proto_corpus <output-dir>\n";
    return 2;
  }
  const std::string dir = argv[1];
  const v1::SourceFilter every = Filter(v1::FILTER_MODE_UNSPECIFIED, {});
  const v1::SourceFilter only_s1_s2 = Filter(v1::FILTER_MODE_INCLUDE, {"s1", "s2"});
  const v1::SourceFilter not_s1 = Filter(v1::FILTER_MODE_EXCLUDE, {"s1"});
  v1::Publication publication;
  publication.set_group("g");
  publication.set_source("s2");
  publication.set_payload("hello");
  publication.set_announce(true);
  v1::PublishLinkRequest link_request;
  link_request.set_group("gc");
  link_request.set_source("s7");
  v1::NodeReport heartbeat;
  heartbeat.mutable_heartbeat()->set_table_version(5);

  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"attach_first_hello_new_node",
       Seed(kAttachFirst, Hello("n4", "10.0.0.4:7000", 2, 1'000'000'000))},
      {"attach_first_hello_restart_n1", Seed(kAttachFirst, Hello("n1", "10.0.0.1:7000"))},
      {"attach_first_hello_id_taken", Seed(kAttachFirst, Hello("n2", "10.9.9.9:7000"))},
      {"attach_first_hello_ipv6", Seed(kAttachFirst, Hello("n-5.x_y", "[::1]:0", 1))},
      {"attach_first_hello_no_port", Seed(kAttachFirst, Hello("n4", "10.0.0.4"))},
      {"attach_first_hello_bad_id", Seed(kAttachFirst, Hello("n/4", "10.0.0.4:7000"))},
      {"attach_first_not_hello", Seed(kAttachFirst, heartbeat)},
      {"attach_later_membership",
       Seed(kAttachLater, Membership({{"g", not_s1}, {"gx", only_s1_s2}, {"gc", every}}))},
      {"attach_later_membership_leave_all", Seed(kAttachLater, Membership({}))},
      {"attach_later_membership_bad_filter",
       Seed(kAttachLater, Membership({{"g", Filter(v1::FILTER_MODE_INCLUDE, {"bad source"})}}))},
      {"attach_later_sources",
       Seed(kAttachLater,
            Sources({{"g", "s1"}, {"g", "s2"}, {"g", "s3"}, {"gc", "s5"}, {"new", "s6"}}))},
      {"attach_later_sources_bad_group", Seed(kAttachLater, Sources({{"g g", "s1"}}))},
      {"attach_later_rtts",
       Seed(kAttachLater, Rtts({{"n1", 1500}, {"n3", 800}, {"n9", 5}, {"n2", 1}}))},
      {"attach_later_rtts_unreachable", Seed(kAttachLater, Rtts({{"n1", 0}, {"n3", 3600000000}}))},
      {"attach_later_rtts_over_limit", Seed(kAttachLater, Rtts({{"n1", 3600000001}}))},
      {"attach_later_heartbeat", Seed(kAttachLater, heartbeat)},
      {"attach_later_hello", Seed(kAttachLater, Hello("n2", "10.0.0.2:7000"))},
      {"attach_later_empty", Seed(kAttachLater, v1::NodeReport())},
      {"list_nodes", Seed(kListNodes, v1::ListNodesRequest())},
      {"list_groups", Seed(kListGroups, v1::ListGroupsRequest())},
      {"get_stats", Seed(kGetStats, v1::GetStatsRequest())},
      {"get_tree_group", Seed(kGetTree, TreeRequest("gc"))},
      {"get_tree_source", Seed(kGetTree, TreeRequest("g", "s1"))},
      {"get_tree_unknown_source", Seed(kGetTree, TreeRequest("gb", "s2"))},
      {"get_tree_unknown_group", Seed(kGetTree, TreeRequest("a/b:c.d-e_f"))},
      {"get_tree_bad_source", Seed(kGetTree, TreeRequest("g", "s/1"))},
      {"watch_tree_group", Seed(kWatchTree, TreeRequest("gb"))},
      {"watch_tree_bad_group", Seed(kWatchTree, TreeRequest(""))},
      {"get_policy", Seed(kGetPolicy, WithGroup<v1::GetPolicyRequest>("g"))},
      {"get_policy_unset", Seed(kGetPolicy, WithGroup<v1::GetPolicyRequest>("other"))},
      {"get_policy_long_group",
       Seed(kGetPolicy, WithGroup<v1::GetPolicyRequest>(std::string(129, 'g')))},
      {"set_policy_restrict", Seed(kSetPolicy, Policy("g", {"s2"}, v1::TREE_PROFILE_COST, 255, 2))},
      {"set_policy_new_group", Seed(kSetPolicy, Policy("video", {}, v1::TREE_PROFILE_BULK, 0, 1))},
      {"set_policy_bad_ttl", Seed(kSetPolicy, Policy("g", {}, v1::TREE_PROFILE_LATENCY, 256, 0))},
      {"set_policy_bad_profile",
       Seed(kSetPolicy, Policy("g", {}, static_cast<v1::TreeProfile>(9), 1, 0))},
      {"list_members", Seed(kListMembers, WithGroup<v1::ListMembersRequest>("g"))},
      {"list_members_none", Seed(kListMembers, WithGroup<v1::ListMembersRequest>("gx"))},
      {"subscribe_include", Seed(kSubscribe, Subscription("g", only_s1_s2))},
      {"subscribe_exclude", Seed(kSubscribe, Subscription("g", not_s1))},
      {"subscribe_include_nothing",
       Seed(kSubscribe, Subscription("g", Filter(v1::FILTER_MODE_INCLUDE, {})))},
      {"subscribe_bad_mode",
       Seed(kSubscribe, Subscription("g", Filter(static_cast<v1::FilterMode>(5), {})))},
      {"publish", Seed(kPublish, publication)},
      {"publish_link", Seed(kPublishOverLink, link_request)},
      {"policy_file",
       Json(R"({"policies": [{"group": "training/ckpt", "allowed_sources": ["trainer"],
  "profile": "TREE_PROFILE_BULK", "slow_receiver": "SLOW_RECEIVER_RELIABLE"},
  {"group": "g", "profile": "TREE_PROFILE_COST", "ttl": 1,
   "slow_receiver": "SLOW_RECEIVER_REALTIME"}]})")},
      {"policy_file_camel_case",
       Json(R"({"policies": [{"group": "video", "allowedSources": ["cam-1", "cam-2"],
  "slowReceiver": "SLOW_RECEIVER_RELIABLE", "ttl": 255}]})")},
      {"policy_file_empty", Json("{}")},
      {"policy_file_duplicate_group", Json(R"({"policies": [{"group": "g"}, {"group": "g"}]})")},
      {"policy_file_unknown_field", Json(R"({"policies": [{"group": "g", "colour": "red"}]})")},
      {"policy_file_not_json", Json("policies: [g]")},
  };
  for (const auto& [name, bytes] : seeds) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "gen_proto_corpus: cannot write " << path << "\n";
      return 1;
    }
  }
  std::cout << "gen_proto_corpus: wrote " << seeds.size() << " seeds to " << dir << "\n";
  return 0;
}
