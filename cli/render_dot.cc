#include "cli/render_dot.h"

#include <map>
#include <set>
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"
#include "cli/names.h"

namespace canopy::cli {
namespace {

// A DOT double-quoted string: backslash, quote and line breaks escaped.
std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
      case '\\':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// The DOT id of `node` inside cluster `index`: the same overlay node appears
// once per source tree.
std::string NodeId(int index, absl::string_view node) {
  return Quote(absl::StrCat("t", index, "/", node));
}

std::string FanOutLabel(const v1::SourceTree& tree, absl::string_view node, size_t used) {
  auto it = tree.max_fanout().find(std::string(node));
  const uint32_t limit = it == tree.max_fanout().end() ? 0 : it->second;
  return absl::StrCat("fan-out ", used, "/", limit == 0 ? "∞" : absl::StrCat(limit));
}

void RenderCluster(int index, const v1::SourceTree& tree, std::string& out) {
  std::map<std::string, size_t> used;
  std::set<std::string> nodes;
  if (!tree.root().empty()) nodes.insert(tree.root());
  for (const v1::TreeEdge& e : tree.edges()) {
    ++used[e.parent()];
    nodes.insert(e.parent());
    nodes.insert(e.child());
  }
  const std::set<std::string> receivers(tree.receivers().begin(), tree.receivers().end());
  nodes.insert(receivers.begin(), receivers.end());

  absl::StrAppend(&out, "  subgraph ", Quote(absl::StrCat("cluster_", index)), " {\n");
  absl::StrAppend(&out, "    label=",
                  Quote(absl::StrCat("source ", tree.source(), " (", ProfileName(tree.profile()),
                                     ", total cost ", tree.cost(), " µs)")),
                  ";\n");
  for (const std::string& node : nodes) {
    std::string attributes =
        absl::StrCat("label=", Quote(absl::StrCat(node, "\n", FanOutLabel(tree, node, used[node]))));
    const bool root = node == tree.root();
    const bool receiver = receivers.contains(node);
    if (root) absl::StrAppend(&attributes, ", shape=doubleoctagon");
    if (receiver && !root) absl::StrAppend(&attributes, ", shape=ellipse");
    if (root || receiver) {
      absl::StrAppend(&attributes, ", style=",
                      Quote(root && receiver ? "bold,filled" : root ? "bold" : "filled"));
    }
    if (receiver) absl::StrAppend(&attributes, ", fillcolor=palegreen");
    absl::StrAppend(&out, "    ", NodeId(index, node), " [", attributes, "];\n");
  }
  // Members the tree misses: red, dashed, with the reason.
  for (const v1::UnreachableMember& m : tree.unreachable()) {
    if (nodes.contains(m.node_id())) continue;
    absl::StrAppend(&out, "    ", NodeId(index, m.node_id()), " [label=",
                    Quote(absl::StrCat(m.node_id(), "\nunreachable: ", m.reason())),
                    ", shape=ellipse, style=dashed, color=red, fontcolor=red];\n");
  }
  for (const v1::TreeEdge& e : tree.edges()) {
    absl::StrAppend(&out, "    ", NodeId(index, e.parent()), " -> ", NodeId(index, e.child()),
                    e.via_multicast() ? " [label=\"LAN multicast\", style=dashed];\n"
                                      : absl::StrCat(" [label=",
                                                     Quote(absl::StrCat(e.cost(), " µs")), "];\n"));
  }
  absl::StrAppend(&out, "  }\n");
}

}  // namespace

std::string RenderTreeDot(const v1::GetTreeResponse& response) {
  std::string out = "digraph canopy {\n";
  absl::StrAppend(&out, "  label=", Quote(absl::StrCat("group ", response.group())), ";\n");
  absl::StrAppend(&out, "  labelloc=t;\n");
  absl::StrAppend(&out, "  node [shape=box, fontname=\"Helvetica\"];\n");
  absl::StrAppend(&out, "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  for (int i = 0; i < response.trees_size(); ++i) RenderCluster(i, response.trees(i), out);
  if (response.trees().empty()) {
    absl::StrAppend(&out, "  \"no active source\" [shape=plaintext];\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace canopy::cli
