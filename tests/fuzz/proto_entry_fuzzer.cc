// libFuzzer target for every request of the Controller and Node gRPC
// services (proto/canopy/v1/controller.proto, node.proto) and for the
// controller's policies file (controller/policy_file.h).
//
// Input: one selector byte (proto_entry_selector.h), then the request
// exactly as the service receives it: a serialized protobuf message, or the
// JSON text of a policies file. A message that does not parse is what gRPC
// refuses before any handler runs. A parsed message goes through the checks
// its handler runs before acting, and then, on the controller, into the real
// handling code: the unary handlers of ControllerService and, for the
// reports of an Attach stream, the ControllerCore calls Attach makes, on a
// core over an in-memory SQLite store that already serves a small overlay
// (Fixture). Node requests stop after validation: the node's handlers need
// sockets and live streams.
//
// Invariants: every check agrees with an independent reading of the
// contracts (canopy/v1/*.proto: name syntax, filter and policy limits; RTTs
// at most a static link's cost); refusals are InvalidArgument with a
// message; what a handler accepted is visible afterwards (a stored policy
// reads back equal and reaches every node, a membership shows in
// ListMembers, a node in ListNodes, a source in its group's trees or in a
// SourceRejected); every tree the controller reports is a tree over attached
// nodes rooted at the source's ingress, reaching exactly the nodes whose
// filters admit the source, with the cost it claims; IGMPv3 filter merging
// admits exactly what one of the merged filters admits; a parsed message
// re-serializes to an equal message and an accepted policies file
// round-trips through JSON. A violation is reported with __builtin_trap() so
// libFuzzer records the input as a crash.
//
// Only the fuzzer and the controller and contract sources are built with
// the sanitizers; the generated protobuf code and tree/ are linked from the
// main build (see tests/fuzz/CMakeLists.txt).
//
// One file, above the usual size: a libFuzzer target is one translation
// unit with one entry point, and its oracles share the fixture and the
// independent readings of the contracts above.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/address.h"
#include "base/stripe_source.h"
#include "canopy/v1/common.pb.h"
#include "canopy/v1/controller.pb.h"
#include "canopy/v1/node.pb.h"
#include "controller/controller_core.h"
#include "controller/policy_file.h"
#include "controller/policy_store.h"
#include "controller/policy_validation.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/server_context.h"
#include "proto/source_filter.h"
#include "proto/validation.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/proto_entry_selector.h"

// The checks Attach runs on node reports, and the service itself: the
// fuzzer calls exactly those functions and the unary handlers, not copies.
#include "base/grpc_status.h"
#include "controller/controller_service.h"
#include "controller/report_validation.h"

namespace {

namespace v1 = canopy::v1;
using canopy::controller::ControllerCore;
using canopy::controller::ControllerOptions;
using canopy::controller::ControllerService;
using canopy::controller::NodeChannel;
using canopy::controller::PolicyStore;
using google::protobuf::util::MessageDifferencer;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

using Selector = canopy::fuzz::ProtoEntrySelector;
using enum canopy::fuzz::ProtoEntrySelector;

// ---- Independent reading of the contracts ---------------------------------
// (the limits are written out as the .proto comments state them)

// `text` is 1..max_bytes of [A-Za-z0-9] and `punctuation`.
bool IsName(absl::string_view text, size_t max_bytes, absl::string_view punctuation) {
  if (text.empty() || text.size() > max_bytes) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           punctuation.find(c) != absl::string_view::npos;
  });
}
bool IsGroup(absl::string_view g) { return IsName(g, 128, "._:/-"); }
bool IsSource(absl::string_view s) { return IsName(s, 64, "._:-"); }
bool IsNode(absl::string_view n) { return IsName(n, 64, "._-"); }

bool IsFilter(const v1::SourceFilter& f) {
  if (f.mode() < 0 || f.mode() > 2 || f.sources_size() > 1024) return false;
  return std::all_of(f.sources().begin(), f.sources().end(), IsSource);
}

bool IsPolicy(const v1::GroupPolicy& p) {
  if (!IsGroup(p.group()) || p.allowed_sources_size() > 1024) return false;
  if (!std::all_of(p.allowed_sources().begin(), p.allowed_sources().end(), IsSource)) return false;
  return p.profile() >= 0 && p.profile() <= 3 && p.slow_receiver() >= 0 && p.slow_receiver() <= 2 &&
         p.ttl() <= 255;
}

// A check's verdict: OK exactly when `valid`, else InvalidArgument with a
// message.
void CheckVerdict(const absl::Status& s, bool valid) {
  FUZZ_CHECK(s.ok() == valid);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!s.message().empty());
  }
}
void CheckVerdict(const grpc::Status& s, bool valid) { CheckVerdict(canopy::FromGrpc(s), valid); }

// An accepted address has a host, and one without brackets prints back to
// itself.
void CheckAddress(absl::string_view text) {
  absl::StatusOr<canopy::HostPort> a = canopy::ParseHostPort(text);
  if (!a.ok()) {
    CheckVerdict(a.status(), false);
    return;
  }
  FUZZ_CHECK(!a->host.empty());
  if (a->host.find_first_of("[]") != std::string::npos) return;
  absl::StatusOr<canopy::HostPort> again = canopy::ParseHostPort(a->ToString());
  FUZZ_CHECK(again.ok() && again->host == a->host && again->port == a->port);
}

// IGMPv3 semantics (RFC 3376): INCLUDE admits the listed sources, EXCLUDE
// (and UNSPECIFIED) all others; a merge admits exactly what one of the
// merged filters admits, and lists its sources sorted and once.
void CheckFilters(const std::vector<v1::SourceFilter>& filters) {
  std::set<std::string> probes = {"", "source-nobody-lists"};
  for (const v1::SourceFilter& f : filters) probes.insert(f.sources().begin(), f.sources().end());
  for (const v1::SourceFilter& f : filters) {
    FUZZ_CHECK(canopy::AdmitsNothing(f) ==
               (f.mode() == v1::FILTER_MODE_INCLUDE && f.sources().empty()));
    for (const std::string& s : probes) {
      const bool listed = std::count(f.sources().begin(), f.sources().end(), s) > 0;
      FUZZ_CHECK(canopy::Admits(f, s) == (f.mode() == v1::FILTER_MODE_INCLUDE ? listed : !listed));
    }
  }
  const v1::SourceFilter merged = canopy::MergeFilters(filters);
  FUZZ_CHECK(merged.mode() == v1::FILTER_MODE_INCLUDE || merged.mode() == v1::FILTER_MODE_EXCLUDE);
  FUZZ_CHECK(std::adjacent_find(merged.sources().begin(), merged.sources().end(),
                                std::greater_equal<std::string>()) == merged.sources().end());
  for (const std::string& s : probes) {
    const bool any = std::any_of(filters.begin(), filters.end(),
                                 [&](const v1::SourceFilter& f) { return canopy::Admits(f, s); });
    FUZZ_CHECK(canopy::Admits(merged, s) == any);
  }
  FUZZ_CHECK(canopy::AdmitsNothing(merged) ==
             (merged.mode() == v1::FILTER_MODE_INCLUDE && merged.sources().empty()));
}

// A parsed message serializes to bytes that parse to an equal message.
void CheckReserialize(const google::protobuf::Message& m) {
  std::unique_ptr<google::protobuf::Message> again(m.New());
  FUZZ_CHECK(again->ParseFromString(m.SerializeAsString()));
  FUZZ_CHECK(MessageDifferencer::Equals(m, *again));
}

// ---- The controller in-process ---------------------------------------------

// A node's end of an Attach stream: records what the controller sends.
class RecordingChannel final : public NodeChannel {
 public:
  bool Send(const v1::NodeInstruction& instruction) override {
    sent.push_back(instruction);
    return true;
  }
  void Close() override { closed = true; }

  std::vector<v1::NodeInstruction> sent;
  bool closed = false;
};

// The overlay every controller request meets: nodes n1, n2, n3 attached;
// group "g" (latency profile, only s1 and s2 may publish, TTL 3), "gc" (cost
// profile) and "gb" (bulk profile); n1 publishes s1 to all three; n2 and n3
// subscribe with different filters.
struct NodeSetup {
  const char* id;
  const char* data_address;
};
constexpr NodeSetup kNodes[] = {
    {"n1", "10.0.0.1:7000"}, {"n2", "10.0.0.2:7000"}, {"n3", "[fd00::3]:7000"}};
constexpr const char* kFixtureGroups[] = {"g", "gc", "gb"};

bool IsFixtureGroup(absl::string_view group) {
  return std::count(std::begin(kFixtureGroups), std::end(kFixtureGroups), group) > 0;
}

class Fixture {
 public:
  // Builds the overlay; that it cannot is a finding.
  static std::unique_ptr<Fixture> Create() {
    auto fixture = std::unique_ptr<Fixture>(new Fixture);
    absl::StatusOr<std::unique_ptr<PolicyStore>> store = PolicyStore::Open(":memory:");
    FUZZ_CHECK(store.ok());
    fixture->store = *std::move(store);
    absl::StatusOr<std::unique_ptr<ControllerCore>> core =
        ControllerCore::Create(ControllerOptions(), *fixture->store);
    FUZZ_CHECK(core.ok());
    fixture->core = *std::move(core);
    fixture->service = std::make_unique<ControllerService>(*fixture->core);
    fixture->Populate();
    return fixture;
  }

  void Populate() {
    v1::GroupPolicy g;
    g.set_group("g");
    g.add_allowed_sources("s1");
    g.add_allowed_sources("s2");
    g.set_ttl(3);
    g.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
    v1::GroupPolicy gc;
    gc.set_group("gc");
    gc.set_profile(v1::TREE_PROFILE_COST);
    v1::GroupPolicy gb;
    gb.set_group("gb");
    gb.set_profile(v1::TREE_PROFILE_BULK);
    for (const v1::GroupPolicy* p : {&g, &gc, &gb}) FUZZ_CHECK(core->SetPolicy(*p).ok());

    for (const NodeSetup& n : kNodes) {
      v1::NodeHello hello;
      hello.set_node_id(n.id);
      hello.set_data_address(n.data_address);
      hello.set_client_address("127.0.0.1:7100");
      FUZZ_CHECK(canopy::controller::ValidateHello(hello).ok());
      channels.emplace_back();
      absl::StatusOr<uint64_t> session = core->Attach(hello, &channels.back(), now);
      FUZZ_CHECK(session.ok());
      sessions[n.id] = *session;
    }
    v1::SourceReport sources;
    for (const char* group : kFixtureGroups) {
      v1::SourceKey* k = sources.add_sources();
      k->set_group(group);
      k->set_source("s1");
    }
    core->OnSources(sessions["n1"], sources, now);
    v1::MembershipReport n2;
    n2.set_report_seq(1);
    for (const char* group : kFixtureGroups) n2.add_groups()->set_group(group);
    core->OnMembership(sessions["n2"], n2, now);
    v1::MembershipReport n3;
    n3.set_report_seq(1);
    v1::GroupMembership* m = n3.add_groups();
    m->set_group("g");
    m->mutable_filter()->set_mode(v1::FILTER_MODE_INCLUDE);
    m->mutable_filter()->add_sources("s1");
    m = n3.add_groups();
    m->set_group("gc");
    m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
    m->mutable_filter()->add_sources("s9");
    core->OnMembership(sessions["n3"], n3, now);
  }

  std::set<std::string> AttachedNodes() {
    std::set<std::string> out;
    const v1::ListNodesResponse nodes = ListNodes();
    for (const v1::NodeSummary& n : nodes.nodes()) out.insert(n.node_id());
    return out;
  }

  v1::ListNodesResponse ListNodes() {
    grpc::ServerContext context;
    v1::ListNodesRequest request;
    v1::ListNodesResponse response;
    FUZZ_CHECK(service->ListNodes(&context, &request, &response).ok());
    return response;
  }

  // Members of `group` as the service reports them (empty if none).
  std::map<std::string, v1::SourceFilter> Members(const std::string& group) {
    grpc::ServerContext context;
    v1::ListMembersRequest request;
    request.set_group(group);
    v1::ListMembersResponse response;
    grpc::Status s = service->ListMembers(&context, &request, &response);
    std::map<std::string, v1::SourceFilter> out;
    if (!s.ok()) {
      FUZZ_CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
      return out;
    }
    FUZZ_CHECK(response.group() == group && response.members_size() > 0);
    for (const v1::Member& m : response.members()) {
      FUZZ_CHECK(out.emplace(m.node_id(), m.filter()).second);
    }
    return out;
  }

  v1::GroupPolicy Policy(const std::string& group) {
    grpc::ServerContext context;
    v1::GetPolicyRequest request;
    request.set_group(group);
    v1::GroupPolicy response;
    FUZZ_CHECK(service->GetPolicy(&context, &request, &response).ok());
    FUZZ_CHECK(response.group() == group);
    return response;
  }

  // Checks every tree of `group` (if it has any) against the overlay: see
  // CheckTree.
  void CheckGroupTrees(const std::string& group) {
    grpc::ServerContext context;
    v1::GetTreeRequest request;
    request.set_group(group);
    v1::GetTreeResponse response;
    grpc::Status s = service->GetTree(&context, &request, &response);
    if (!s.ok()) {
      FUZZ_CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
      return;
    }
    CheckTrees(response, group);
  }

  void CheckTrees(const v1::GetTreeResponse& response, const std::string& group) {
    FUZZ_CHECK(response.group() == group);
    const std::set<std::string> attached = AttachedNodes();
    const std::map<std::string, v1::SourceFilter> members = Members(group);
    const v1::GroupPolicy policy = Policy(group);
    std::set<std::string> sources;
    for (const v1::SourceTree& t : response.trees()) {
      FUZZ_CHECK(sources.insert(t.source()).second);
      const auto& allowed = policy.allowed_sources();
      FUZZ_CHECK(allowed.empty() || std::count(allowed.begin(), allowed.end(), t.source()) > 0);
      CheckTree(t, attached, members);
    }
  }

  // A tree is rooted at an attached node, every other node of it has exactly
  // one parent and reaches the root, its cost is the sum of its edges, and
  // its receivers are exactly the nodes whose filter admits the source.
  static void CheckTree(const v1::SourceTree& t, const std::set<std::string>& attached,
                        const std::map<std::string, v1::SourceFilter>& members) {
    FUZZ_CHECK(attached.contains(t.root()));
    std::map<std::string, std::string> parent;
    int64_t total = 0;
    for (const v1::TreeEdge& e : t.edges()) {
      FUZZ_CHECK(attached.contains(e.parent()) && attached.contains(e.child()));
      FUZZ_CHECK(e.child() != t.root());
      FUZZ_CHECK(parent.emplace(e.child(), e.parent()).second);
      FUZZ_CHECK(e.cost() >= 0);
      FUZZ_CHECK(!__builtin_add_overflow(total, e.cost(), &total));
    }
    FUZZ_CHECK(t.cost() == total);
    for (const auto& [child, first] : parent) {
      std::string at = first;
      for (size_t hops = 0; at != t.root(); ++hops) {
        FUZZ_CHECK(hops <= parent.size());
        auto up = parent.find(at);
        FUZZ_CHECK(up != parent.end());
        at = up->second;
      }
    }
    std::set<std::string> receivers;
    for (const std::string& r : t.receivers()) {
      FUZZ_CHECK(r == t.root() || parent.contains(r));
      FUZZ_CHECK(receivers.insert(r).second);
    }
    std::set<std::string> wanting;
    for (const auto& [node, filter] : members) {
      if (canopy::Admits(filter, t.source())) wanting.insert(node);
    }
    FUZZ_CHECK(receivers == wanting);
  }

  std::unique_ptr<PolicyStore> store;
  std::unique_ptr<ControllerCore> core;
  std::unique_ptr<ControllerService> service;
  std::deque<RecordingChannel> channels;  // one per Attach, never moved
  std::map<std::string, uint64_t> sessions;
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);

 private:
  Fixture() = default;
};

// The first report of an Attach stream: only a valid hello attaches the node.
void AttachFirst(const v1::NodeReport& report) {
  if (!report.has_hello()) return;  // Attach refuses the stream here
  const v1::NodeHello& hello = report.hello();
  CheckAddress(hello.data_address());
  CheckAddress(hello.client_address());
  const bool valid = IsNode(hello.node_id()) && canopy::ParseHostPort(hello.data_address()).ok() &&
                     canopy::ParseHostPort(hello.client_address()).ok();
  CheckVerdict(canopy::controller::ValidateHello(hello), valid);
  if (!valid) return;

  std::unique_ptr<Fixture> f = Fixture::Create();
  const NodeSetup* same_id = nullptr;
  for (const NodeSetup& n : kNodes) {
    if (hello.node_id() == n.id) same_id = &n;
  }
  f->channels.emplace_back();
  RecordingChannel& channel = f->channels.back();
  absl::StatusOr<uint64_t> session = f->core->Attach(hello, &channel, f->now);
  // A live node's id is taken unless the hello comes from its address (a
  // restart), which replaces the old session.
  if (same_id != nullptr && hello.data_address() != same_id->data_address) {
    FUZZ_CHECK(absl::IsAlreadyExists(session.status()));
    FUZZ_CHECK(f->AttachedNodes().size() == 3);
    return;
  }
  FUZZ_CHECK(session.ok());
  if (same_id != nullptr) FUZZ_CHECK(f->channels[same_id - kNodes].closed);
  // The node hears who leads, then the policies, then is listed as it said.
  FUZZ_CHECK(channel.sent.size() >= 2 && channel.sent[0].has_leader());
  FUZZ_CHECK(channel.sent[1].has_policies());
  FUZZ_CHECK(channel.sent[1].policies().policies_size() == 3);
  const v1::ListNodesResponse nodes = f->ListNodes();
  FUZZ_CHECK(nodes.nodes_size() == (same_id != nullptr ? 3 : 4));
  bool listed = false;
  for (const v1::NodeSummary& n : nodes.nodes()) {
    if (n.node_id() != hello.node_id()) continue;
    listed = true;
    FUZZ_CHECK(n.data_address() == hello.data_address() &&
               n.client_address() == hello.client_address() &&
               n.max_fanout() == hello.max_fanout() && n.upload_bps() == hello.upload_bps());
  }
  FUZZ_CHECK(listed);
  for (const char* g : kFixtureGroups) f->CheckGroupTrees(g);
  // Its fan-out limit and upload capacity shape the trees once it joins
  // every group.
  v1::MembershipReport everything;
  for (const char* g : kFixtureGroups) everything.add_groups()->set_group(g);
  f->core->OnMembership(*session, everything, f->now);
  for (const char* g : kFixtureGroups) f->CheckGroupTrees(g);
  f->core->Detach(*session);
  FUZZ_CHECK(f->AttachedNodes().size() == (same_id != nullptr ? 2u : 3u));
  for (const char* g : kFixtureGroups) f->CheckGroupTrees(g);
}

// A later report on n2's Attach stream, handled as Attach's read loop does.
void AttachLater(const v1::NodeReport& report) {
  std::unique_ptr<Fixture> f;
  const auto fixture = [&] {
    f = Fixture::Create();
    return f->sessions["n2"];
  };
  std::set<std::string> groups(std::begin(kFixtureGroups), std::end(kFixtureGroups));
  switch (report.body_case()) {
    case v1::NodeReport::kMembership: {
      const v1::MembershipReport& m = report.membership();
      std::vector<v1::SourceFilter> filters;
      bool valid = true;
      for (const v1::GroupMembership& gm : m.groups()) {
        valid = valid && IsGroup(gm.group()) && IsFilter(gm.filter());
        filters.push_back(gm.filter());
      }
      CheckFilters(filters);
      CheckVerdict(canopy::controller::ValidateMembership(m), valid);
      if (!valid) return;
      const uint64_t session = fixture();
      const RecordingChannel& n2 = f->channels[1];
      f->core->OnMembership(session, m, f->now);
      // Acknowledged last, after the tables.
      FUZZ_CHECK(!n2.sent.empty() && n2.sent.back().has_membership_ack() &&
                 n2.sent.back().membership_ack().report_seq() == m.report_seq());
      // The report replaces n2's membership: the last filter per group.
      std::map<std::string, v1::SourceFilter> latest;
      for (const v1::GroupMembership& gm : m.groups()) latest[gm.group()] = gm.filter();
      for (const auto& [group, filter] : latest) groups.insert(group);
      for (const std::string& group : groups) {
        const std::map<std::string, v1::SourceFilter> members = f->Members(group);
        auto it = members.find("n2");
        FUZZ_CHECK((it != members.end()) == latest.contains(group));
        if (it != members.end()) FUZZ_CHECK(MessageDifferencer::Equals(it->second, latest[group]));
      }
      const v1::ListNodesResponse nodes = f->ListNodes();
      for (const v1::NodeSummary& n : nodes.nodes()) {
        if (n.node_id() != "n2") continue;
        FUZZ_CHECK(static_cast<size_t>(n.groups_size()) == latest.size());
      }
      break;
    }
    case v1::NodeReport::kSources: {
      bool valid = true;
      for (const v1::SourceKey& k : report.sources().sources()) {
        valid = valid && IsGroup(k.group()) && IsSource(k.source());
      }
      CheckVerdict(canopy::controller::ValidateSources(report.sources()), valid);
      if (!valid) return;
      const uint64_t session = fixture();
      RecordingChannel& n2 = f->channels[1];
      n2.sent.clear();
      f->core->OnSources(session, report.sources(), f->now);
      std::set<std::pair<std::string, std::string>> rejected;
      for (const v1::NodeInstruction& i : n2.sent) {
        if (i.has_source_rejected()) {
          FUZZ_CHECK(!i.source_rejected().reason().empty());
          rejected.insert({i.source_rejected().key().group(), i.source_rejected().key().source()});
        }
      }
      for (const v1::SourceKey& k : report.sources().sources()) {
        groups.insert(k.group());
        // A source flows from its first ingress in node order (n1 already
        // publishes s1 to the fixture groups) if the allow-list admits it;
        // n2 is told when it may not be the ingress.
        const v1::GroupPolicy policy = f->Policy(k.group());
        const auto& allowed = policy.allowed_sources();
        const bool admitted =
            allowed.empty() || std::count(allowed.begin(), allowed.end(), k.source()) > 0;
        const bool via_n1 = k.source() == "s1" && IsFixtureGroup(k.group());
        FUZZ_CHECK(rejected.contains({k.group(), k.source()}) == (!admitted || via_n1));
        grpc::ServerContext context;
        v1::GetTreeRequest request;
        request.set_group(k.group());
        request.set_source(k.source());
        v1::GetTreeResponse response;
        grpc::Status s = f->service->GetTree(&context, &request, &response);
        FUZZ_CHECK(s.ok() == admitted);
        if (s.ok()) {
          FUZZ_CHECK(response.trees_size() == 1);
          FUZZ_CHECK(response.trees(0).root() == (via_n1 ? "n1" : "n2"));
        } else {
          FUZZ_CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
        }
      }
      break;
    }
    case v1::NodeReport::kMulticastPeers: {
      const v1::MulticastPeers& peers = report.multicast_peers();
      bool valid = peers.node_ids_size() <= canopy::controller::kMaxReportedRtts;
      for (const std::string& id : peers.node_ids()) valid = valid && IsNode(id);
      CheckVerdict(canopy::controller::ValidateMulticastPeers(peers), valid);
      if (!valid) return;
      const uint64_t session = fixture();
      f->core->OnMulticastPeers(session, peers, f->now);
      // Only n2 reported: nobody heard it back, so no domain can form.
      const v1::ListNodesResponse nodes = f->ListNodes();
      for (const v1::NodeSummary& n : nodes.nodes()) FUZZ_CHECK(n.multicast_domain().empty());
      break;
    }
    case v1::NodeReport::kRtts: {
      bool valid = report.rtts().peers_size() <= canopy::controller::kMaxReportedRtts;
      // RTTs are link costs, at most what a static link may cost.
      for (const v1::PeerRtt& p : report.rtts().peers()) {
        valid = valid && IsNode(p.node_id()) &&
                p.rtt_us() <= static_cast<uint64_t>(canopy::controller::kMaxStaticLinkCostUs);
      }
      CheckVerdict(canopy::controller::ValidateRtts(report.rtts()), valid);
      if (!valid) return;
      const uint64_t session = fixture();
      f->core->OnRtts(session, report.rtts(), f->now);
      // Measured costs take effect on the next re-optimisation.
      f->core->Reoptimize();
      f->core->ReplanAll();
      break;
    }
    case v1::NodeReport::kHeartbeat: {
      const uint64_t session = fixture();
      f->core->OnHeartbeat(session, report.heartbeat(), f->now);
      const v1::ListNodesResponse nodes = f->ListNodes();
      for (const v1::NodeSummary& n : nodes.nodes()) {
        if (n.node_id() == "n2") {
          FUZZ_CHECK(n.table_version_applied() == report.heartbeat().table_version());
        }
      }
      break;
    }
    case v1::NodeReport::kTraffic: {
      // Refused unless every name is well formed and the lists are bounded;
      // an accepted report feeds the service's per-edge rates, not the core.
      const v1::TrafficReport& t = report.traffic();
      bool valid = t.flows_size() <= canopy::controller::kMaxReportedSources &&
                   t.links_size() <= canopy::controller::kMaxReportedRtts;
      for (const v1::FlowTraffic& flow : t.flows()) {
        const std::optional<canopy::Stripe> stripe = canopy::ParseStripe(flow.source());
        valid = valid && IsGroup(flow.group()) && IsSource(stripe ? stripe->base : flow.source());
      }
      for (const v1::LinkTraffic& link : t.links()) valid = valid && IsNode(link.node_id());
      CheckVerdict(canopy::controller::ValidateTraffic(t), valid);
      return;
    }
    case v1::NodeReport::kHello:        // Attach ends the stream: hello only first
    case v1::NodeReport::BODY_NOT_SET:  // and an empty report
      return;
  }
  FUZZ_CHECK(f != nullptr);  // every report kind above that goes on made the fixture
  FUZZ_CHECK(f->AttachedNodes().size() == 3);
  for (const std::string& g : groups) f->CheckGroupTrees(g);
}

void GetTree(const v1::GetTreeRequest& request, bool watch) {
  const bool valid =
      IsGroup(request.group()) && (watch || request.source().empty() || IsSource(request.source()));
  std::unique_ptr<Fixture> f = Fixture::Create();
  grpc::ServerContext context;
  v1::GetTreeResponse response;
  absl::StatusOr<v1::GetTreeResponse> tree;
  if (watch) {
    // WatchTree streams; what it does before its first write is this.
    absl::Status s = canopy::ValidateGroupName(request.group());
    CheckVerdict(s, valid);
    if (!s.ok()) return;
    f->core->TreeVersion(request.group());
    tree = f->core->GetTree(request);
  } else {
    grpc::Status s = f->service->GetTree(&context, &request, &response);
    if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT || !valid) {
      CheckVerdict(s, valid);
      return;
    }
    tree = s.ok() ? absl::StatusOr<v1::GetTreeResponse>(response) : canopy::FromGrpc(s);
  }
  FUZZ_CHECK(tree.ok() == (IsFixtureGroup(request.group()) &&
                           (request.source().empty() || request.source() == "s1")));
  if (!tree.ok()) {
    FUZZ_CHECK(absl::IsNotFound(tree.status()));
    return;
  }
  for (const v1::SourceTree& t : tree->trees()) {
    FUZZ_CHECK(request.source().empty() || t.source() == request.source());
  }
  f->CheckTrees(*tree, request.group());
}

void SetPolicy(const v1::GroupPolicy& request) {
  const bool valid = IsPolicy(request);
  CheckVerdict(canopy::controller::ValidatePolicy(request), valid);
  std::unique_ptr<Fixture> f = Fixture::Create();
  grpc::ServerContext context;
  v1::GroupPolicy response;
  CheckVerdict(f->service->SetPolicy(&context, &request, &response), valid);
  if (!valid) return;
  FUZZ_CHECK(MessageDifferencer::Equals(response, request));
  // Stored durably: it reads back as set (unknown fields are not kept).
  v1::GroupPolicy stored = request;
  stored.DiscardUnknownFields();
  FUZZ_CHECK(MessageDifferencer::Equals(f->Policy(request.group()), stored));
  // And pushed to every node.
  for (const RecordingChannel& c : f->channels) {
    auto last = std::find_if(c.sent.rbegin(), c.sent.rend(),
                             [](const v1::NodeInstruction& i) { return i.has_policies(); });
    FUZZ_CHECK(last != c.sent.rend());
    const auto& pushed = last->policies().policies();
    FUZZ_CHECK(std::any_of(pushed.begin(), pushed.end(), [&](const v1::GroupPolicy& p) {
      return MessageDifferencer::Equals(p, stored);
    }));
  }
  for (const char* g : kFixtureGroups) f->CheckGroupTrees(g);
  f->CheckGroupTrees(request.group());
}

void GroupRequest(Selector selector, const std::string& group) {
  std::unique_ptr<Fixture> f = Fixture::Create();
  grpc::ServerContext context;
  const bool valid = IsGroup(group);
  if (selector == kGetPolicy) {
    v1::GetPolicyRequest request;
    request.set_group(group);
    v1::GroupPolicy response;
    grpc::Status s = f->service->GetPolicy(&context, &request, &response);
    CheckVerdict(s, valid);
    if (s.ok()) {
      FUZZ_CHECK(response.group() == group);
      FUZZ_CHECK(canopy::controller::ValidatePolicy(response).ok());
    }
    return;
  }
  v1::ListMembersRequest request;
  request.set_group(group);
  v1::ListMembersResponse response;
  grpc::Status s = f->service->ListMembers(&context, &request, &response);
  if (!valid || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    CheckVerdict(s, valid);
    return;
  }
  // n2 subscribes to every fixture group, n3 to g and gc.
  std::set<std::string> expected;
  if (IsFixtureGroup(group)) expected.insert("n2");
  if (group == "g" || group == "gc") expected.insert("n3");
  FUZZ_CHECK(s.ok() == !expected.empty());
  std::set<std::string> members;
  for (const v1::Member& m : response.members()) members.insert(m.node_id());
  FUZZ_CHECK(members == expected);
}

void Inspect(Selector selector) {
  std::unique_ptr<Fixture> f = Fixture::Create();
  grpc::ServerContext context;
  if (selector == kListNodes) {
    FUZZ_CHECK(f->AttachedNodes() == std::set<std::string>({"n1", "n2", "n3"}));
  } else if (selector == kListGroups) {
    v1::ListGroupsRequest request;
    v1::ListGroupsResponse response;
    FUZZ_CHECK(f->service->ListGroups(&context, &request, &response).ok());
    FUZZ_CHECK(response.groups_size() == 3);
    std::set<uint32_t> handles;
    for (const v1::GroupSummary& g : response.groups()) {
      FUZZ_CHECK(g.sources_size() == 1 && g.sources(0).source() == "s1" &&
                 g.sources(0).node_id() == "n1");
      FUZZ_CHECK(g.group_handle() > 0 && handles.insert(g.group_handle()).second);
    }
  } else {
    v1::GetStatsRequest request;
    v1::ControllerStats response;
    FUZZ_CHECK(f->service->GetStats(&context, &request, &response).ok());
    FUZZ_CHECK(response.nodes() == 3 && response.groups() == 3 && response.flows() == 3);
  }
}

// The checks the Node service runs before it joins or publishes
// (node/client_service.cc), in its order.
void Subscribe(const v1::SubscribeRequest& request) {
  CheckVerdict(canopy::ValidateGroupName(request.group()), IsGroup(request.group()));
  CheckVerdict(canopy::ValidateFilter(request.filter()), IsFilter(request.filter()));
  CheckFilters({request.filter()});
  CheckFilters({request.filter(), request.filter()});
  CheckFilters({});
}

void Publish(const std::string& group, const std::string& source) {
  CheckVerdict(canopy::ValidateGroupName(group), IsGroup(group));
  CheckVerdict(canopy::ValidateSourceId(source), IsSource(source));
}

void PolicyFile(absl::string_view json) {
  absl::StatusOr<std::vector<v1::GroupPolicy>> policies = canopy::controller::ParsePolicyFile(json);
  if (!policies.ok()) {
    CheckVerdict(policies.status(), false);
    return;
  }
  std::set<std::string> groups;
  v1::PolicyUpdate update;
  for (const v1::GroupPolicy& p : *policies) {
    FUZZ_CHECK(IsPolicy(p));
    FUZZ_CHECK(groups.insert(p.group()).second);
    *update.add_policies() = p;
  }
  // What was accepted, printed as JSON, reads back the same.
  std::string printed;
  FUZZ_CHECK(google::protobuf::util::MessageToJsonString(update, &printed).ok());
  absl::StatusOr<std::vector<v1::GroupPolicy>> again = canopy::controller::ParsePolicyFile(printed);
  FUZZ_CHECK(again.ok() && again->size() == policies->size());
  for (size_t i = 0; i < policies->size(); ++i) {
    FUZZ_CHECK(MessageDifferencer::Equals((*again)[i], (*policies)[i]));
  }
  // The controller stores them at start-up as SetPolicy does.
  if (policies->empty()) return;
  std::unique_ptr<Fixture> f = Fixture::Create();
  for (const v1::GroupPolicy& p : *policies) {
    FUZZ_CHECK(f->core->SetPolicy(p).ok());
    FUZZ_CHECK(MessageDifferencer::Equals(f->Policy(p.group()), p));
  }
  for (const char* g : kFixtureGroups) f->CheckGroupTrees(g);
}

template <typename M>
bool Parse(const uint8_t* data, size_t size, M& message) {
  if (!message.ParseFromArray(data, static_cast<int>(size))) return false;
  CheckReserialize(message);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 is refused, not news
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto selector = static_cast<Selector>(data[0] % kSelectorCount);
  ++data;
  --size;
  switch (selector) {
    case kAttachFirst:
    case kAttachLater: {
      v1::NodeReport report;
      if (!Parse(data, size, report)) return 0;
      selector == kAttachFirst ? AttachFirst(report) : AttachLater(report);
      break;
    }
    case kListNodes: {
      v1::ListNodesRequest request;
      if (Parse(data, size, request)) Inspect(selector);
      break;
    }
    case kListGroups: {
      v1::ListGroupsRequest request;
      if (Parse(data, size, request)) Inspect(selector);
      break;
    }
    case kGetStats: {
      v1::GetStatsRequest request;
      if (Parse(data, size, request)) Inspect(selector);
      break;
    }
    case kGetTree:
    case kWatchTree: {
      v1::GetTreeRequest request;
      if (Parse(data, size, request)) GetTree(request, selector == kWatchTree);
      break;
    }
    case kGetPolicy: {
      v1::GetPolicyRequest request;
      if (Parse(data, size, request)) GroupRequest(selector, request.group());
      break;
    }
    case kListMembers: {
      v1::ListMembersRequest request;
      if (Parse(data, size, request)) GroupRequest(selector, request.group());
      break;
    }
    case kSetPolicy: {
      v1::GroupPolicy request;
      if (Parse(data, size, request)) SetPolicy(request);
      break;
    }
    case kSubscribe: {
      v1::SubscribeRequest request;
      if (Parse(data, size, request)) Subscribe(request);
      break;
    }
    case kPublish: {
      v1::Publication request;
      if (Parse(data, size, request)) Publish(request.group(), request.source());
      break;
    }
    case kPublishOverLink: {
      v1::PublishLinkRequest request;
      if (Parse(data, size, request)) Publish(request.group(), request.source());
      break;
    }
    case kPolicyFile:
      PolicyFile(absl::string_view(reinterpret_cast<const char*>(data), size));
      break;
    case kSelectorCount:
      break;
  }
  return 0;
}
