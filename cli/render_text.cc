#include "cli/render_text.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/names.h"
#include "cli/render_rates.h"
#include "google/protobuf/descriptor.h"

namespace canopy::cli {
namespace {

struct Child {
  std::string node;
  int64_t cost;
  int edge;  // index in SourceTree.edges
  bool via_multicast;
};

// Children of each parent, in name order.
using ChildMap = std::map<std::string, std::vector<Child>>;

ChildMap ChildrenOf(const v1::SourceTree& tree) {
  ChildMap children;
  for (int i = 0; i < tree.edges_size(); ++i) {
    const v1::TreeEdge& e = tree.edges(i);
    children[e.parent()].push_back({e.child(), e.cost(), i, e.via_multicast()});
  }
  for (auto& [parent, list] : children) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Child& a, const Child& b) { return a.node < b.node; });
  }
  return children;
}

std::string FanOut(const v1::SourceTree& tree, const ChildMap& children, const std::string& node) {
  auto it = children.find(node);
  const size_t used = it == children.end() ? 0 : it->second.size();
  auto limit_it = tree.max_fanout().find(node);
  const uint32_t limit = limit_it == tree.max_fanout().end() ? 0 : limit_it->second;
  if (limit == 0) return absl::StrCat("fan-out ", used, "/∞");
  return absl::StrCat("fan-out ", used, "/", limit);
}

// "  [OVER LIMIT]" after a node that feeds more children than its limit.
std::string OverLimit(const v1::SourceTree& tree, const ChildMap& children,
                      const std::string& node) {
  auto it = children.find(node);
  const size_t used = it == children.end() ? 0 : it->second.size();
  auto limit_it = tree.max_fanout().find(node);
  const uint32_t limit = limit_it == tree.max_fanout().end() ? 0 : limit_it->second;
  return limit != 0 && used > limit ? absl::StrCat("  ", kOverLimitMarker) : "";
}

struct TreeWalk {
  const v1::SourceTree& tree;
  const ChildMap& children;
  const std::set<std::string>& receivers;
  std::set<std::string> shown;  // nodes already printed (guards cycles)
  std::vector<bool> edge_shown;
  std::string& out;

  void Children(const std::string& node, const std::string& prefix) {
    auto it = children.find(node);
    if (it == children.end()) return;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const Child& c = it->second[i];
      const bool last = i + 1 == it->second.size();
      edge_shown[c.edge] = true;
      absl::StrAppend(&out, prefix, last ? "└── " : "├── ", c.node);
      if (!shown.insert(c.node).second) {
        absl::StrAppend(&out, "  (cost ", c.cost, " µs)  [already shown: not a tree]\n");
        continue;
      }
      const v1::TreeEdge& e = tree.edges(c.edge);
      absl::StrAppend(&out, "  (cost ", c.cost, " µs, ", FanOut(tree, children, c.node), ")",
                      OverLimit(tree, children, c.node), c.via_multicast ? "  [LAN multicast]" : "",
                      receivers.contains(c.node) ? "  [receiver]" : "",
                      e.has_traffic() ? TrafficText(e.traffic(), /*edge=*/true) : "", "\n");
      Children(c.node, absl::StrCat(prefix, last ? "    " : "│   "));
    }
  }
};

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// "bulk: forest of 4 trees over 8 stripes; 1 GiB predicted in 12.3 s, bound
// 11.0 s (1.12×)".
std::string BulkLine(const v1::BulkPrediction& bulk) {
  const double gib = static_cast<double>(bulk.reference_bytes()) / (1 << 30);
  return absl::StrCat(
      "bulk: ", bulk.shape(), bulk.trees() > 1 ? absl::StrCat(" of ", bulk.trees(), " trees") : "",
      bulk.stripes() > 1 ? absl::StrCat(" over ", bulk.stripes(), " stripes") : "", "; ",
      absl::StrFormat("%g GiB predicted in %.1f s, bound %.1f s", gib, bulk.predicted_seconds(),
                      bulk.bound_seconds()),
      bulk.bound_seconds() > 0
          ? absl::StrFormat(" (%.2f×)", bulk.predicted_seconds() / bulk.bound_seconds())
          : "",
      "\n");
}

void RenderOneTree(const std::string& group, const v1::SourceTree& tree, std::string& out) {
  const ChildMap children = ChildrenOf(tree);
  const std::set<std::string> receivers(tree.receivers().begin(), tree.receivers().end());
  absl::StrAppend(
      &out, "group ", group, "  source ", tree.source(), "  (", ProfileName(tree.profile()),
      ", total cost ", tree.cost(), " µs, ", Plural(receivers.size(), "receiver", "receivers"),
      tree.unreachable().empty() ? std::string()
                                 : absl::StrCat(", ", tree.unreachable_size(), " unreachable"),
      ")\n");
  absl::StrAppend(&out, tree.root().empty() ? "(no root)" : tree.root(), "  [ingress]  (",
                  FanOut(tree, children, tree.root()), ")", OverLimit(tree, children, tree.root()),
                  receivers.contains(tree.root()) ? "  [receiver]" : "", "\n");
  TreeWalk walk{
      tree, children, receivers, {tree.root()}, std::vector<bool>(tree.edges_size(), false), out};
  walk.Children(tree.root(), "");
  for (int i = 0; i < tree.edges_size(); ++i) {
    if (walk.edge_shown[i]) continue;
    const v1::TreeEdge& e = tree.edges(i);
    absl::StrAppend(&out, "(not reachable from the root) ", e.parent(), " → ", e.child(),
                    "  (cost ", e.cost(), " µs)\n");
  }
  for (const v1::UnreachableMember& m : tree.unreachable()) {
    absl::StrAppend(&out, "unreachable: ", m.node_id(), "  (", m.reason(), ")\n");
  }
  if (tree.has_bulk()) absl::StrAppend(&out, BulkLine(tree.bulk()));
  absl::StrAppend(&out, RenderReceiversText(tree));
}

std::string FilterText(const v1::SourceFilter& filter) {
  return absl::StrCat(FilterModeName(filter.mode()), " {", absl::StrJoin(filter.sources(), ", "),
                      "}");
}

}  // namespace

std::string RenderTreeText(const v1::GetTreeResponse& response) {
  std::string out;
  for (int i = 0; i < response.trees_size(); ++i) {
    if (i > 0) out.push_back('\n');
    RenderOneTree(response.group(), response.trees(i), out);
  }
  if (response.trees().empty()) {
    absl::StrAppend(&out, "group ", response.group(), ": no active source\n");
  }
  return out;
}

std::string RenderMembersText(const v1::ListMembersResponse& response) {
  if (response.members().empty()) return absl::StrCat("group ", response.group(), ": no members\n");
  std::vector<const v1::Member*> members;
  size_t width = 0;
  for (const v1::Member& m : response.members()) {
    members.push_back(&m);
    width = std::max(width, m.node_id().size());
  }
  std::stable_sort(members.begin(), members.end(), [](const v1::Member* a, const v1::Member* b) {
    return a->node_id() < b->node_id();
  });
  std::string out;
  for (const v1::Member* m : members) {
    absl::StrAppend(&out, absl::StrFormat("%-*s  ", width, m->node_id()), FilterText(m->filter()));
    for (const v1::CutOffSource& c : m->cut_off()) {
      absl::StrAppend(&out, "  [unreachable from ", c.source(), ": ", c.reason(), "]");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string RenderPolicyText(const v1::GroupPolicy& policy) {
  std::string out;
  absl::StrAppend(&out, "group          ", policy.group(), "\n");
  absl::StrAppend(
      &out, "allow          ",
      policy.allowed_sources().empty() ? "anyone" : absl::StrJoin(policy.allowed_sources(), ","),
      "\n");
  absl::StrAppend(&out, "profile        ", ProfileName(policy.profile()),
                  policy.profile() == v1::TREE_PROFILE_UNSPECIFIED ? " (default)" : "", "\n");
  absl::StrAppend(&out, "ttl            ",
                  policy.ttl() == 0 ? "1 (default)" : absl::StrCat(policy.ttl()), "\n");
  absl::StrAppend(&out, "slow_receiver  ", SlowReceiverName(policy.slow_receiver()),
                  policy.slow_receiver() == v1::SLOW_RECEIVER_UNSPECIFIED ? " (default)" : "",
                  "\n");
  return out;
}

std::string RenderStatsText(const v1::ControllerStats& stats) {
  const google::protobuf::Descriptor* descriptor = stats.GetDescriptor();
  const google::protobuf::Reflection* reflection = stats.GetReflection();
  size_t width = 0;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    width = std::max(width, descriptor->field(i)->name().size());
  }
  std::string out;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    std::string value;
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        value = absl::StrCat(reflection->GetUInt32(stats, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        value = absl::StrCat(reflection->GetUInt64(stats, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        value = absl::StrCat(reflection->GetInt32(stats, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        value = absl::StrCat(reflection->GetInt64(stats, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        value = reflection->GetBool(stats, field) ? "yes" : "no";
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        value = reflection->GetString(stats, field);
        if (value.empty()) value = "-";
        break;
      default:
        continue;  // other kinds are for --format json
    }
    absl::StrAppend(&out, absl::StrFormat("%-*s  ", width, field->name()), value, "\n");
  }
  return out;
}

std::string RenderStatusText(const v1::ControllerStatus& status) {
  std::string out;
  absl::StrAppend(&out, "leader    ", status.leader().empty() ? "-" : status.leader(), " (term ",
                  status.term(), ")\n");
  absl::StrAppend(&out, "version   ", status.version(), "\n");
  absl::StrAppend(&out, "store     ", status.store(), " ", status.store_location(), " (",
                  status.store_reachable() ? "reachable" : "UNREACHABLE: " + status.store_error(),
                  ")\n");
  absl::StrAppend(&out, "replicas\n");
  for (const v1::Replica& r : status.replicas()) {
    absl::StrAppend(&out, absl::StrFormat("  %-24s %-9s %s\n", r.address(),
                                          r.leader() ? "leader" : "follower", r.version()));
  }
  if (!status.etcd_endpoints().empty()) {
    absl::StrAppend(&out, "etcd endpoints\n");
    for (const v1::EtcdEndpoint& e : status.etcd_endpoints()) {
      const std::string health =
          e.healthy() ? absl::StrCat("healthy   etcd ", e.version()) : "UNHEALTHY " + e.error();
      absl::StrAppend(&out, absl::StrFormat("  %-32s %s\n", e.endpoint(), health));
    }
  }
  return out;
}

std::string RenderNodesText(const v1::ListNodesResponse& response) {
  std::string out = absl::StrFormat("%-16s %-22s %-22s %-7s %-24s %s\n", "NODE", "DATA", "CLIENTS",
                                    "FANOUT", "GROUPS", "MULTICAST DOMAIN");
  for (const v1::NodeSummary& n : response.nodes()) {
    const std::string groups = n.groups().empty() ? "-" : absl::StrJoin(n.groups(), ",");
    const std::string domain =
        n.multicast_domain().empty() ? "-" : absl::StrJoin(n.multicast_domain(), ",");
    absl::StrAppend(&out, absl::StrFormat("%-16s %-22s %-22s %-7s %-24s %s\n", n.node_id(),
                                          n.data_address(), n.client_address(),
                                          n.max_fanout() == 0 ? "-" : absl::StrCat(n.max_fanout()),
                                          groups, domain));
  }
  return out;
}

std::string RenderGroupsText(const v1::ListGroupsResponse& response) {
  std::string out = absl::StrFormat("%-20s %-7s %-30s %-30s %s\n", "GROUP", "HANDLE",
                                    "MEMBER NODES", "SOURCES@NODE", "ALLOWED");
  for (const v1::GroupSummary& g : response.groups()) {
    std::vector<std::string> sources;
    for (const v1::SourceAt& at : g.sources()) sources.push_back(at.source() + "@" + at.node_id());
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-20s %-7u %-30s %-30s %s\n", g.group(), g.group_handle(),
            absl::StrJoin(g.member_nodes(), ","), absl::StrJoin(sources, ","),
            g.allowed_sources().empty() ? "anyone" : absl::StrJoin(g.allowed_sources(), ",")));
  }
  return out;
}

std::string FormatTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

std::string RenderWatchHeader(absl::Time time, absl::string_view group, int update) {
  return absl::StrCat("=== ", FormatTimestamp(time), "  group ", group, "  update ", update, "\n");
}

}  // namespace canopy::cli
