#include "cli/render_dot.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/names.h"
#include "cli/render_rates.h"

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

bool OverLimit(const v1::SourceTree& tree, const std::string& node, size_t used) {
  auto it = tree.max_fanout().find(node);
  return it != tree.max_fanout().end() && it->second != 0 && used > it->second;
}

// The extra label lines of a node: its upload capacity, and what it
// delivers (a receiver) or publishes (the ingress) with traffic.
std::string NodeDetails(const v1::SourceTree& tree, const std::string& node) {
  std::string out;
  if (auto up = tree.upload_bps().find(node); up != tree.upload_bps().end()) {
    absl::StrAppend(&out, "\nupload ", BitRate(static_cast<double>(up->second) / 8));
  }
  if (!tree.has_traffic()) return out;
  const v1::EdgeTraffic* t = nullptr;
  const char* what = "delivered";
  if (auto r = tree.traffic().receivers().find(node); r != tree.traffic().receivers().end()) {
    t = &r->second;
  } else if (node == tree.root() && tree.traffic().has_ingress()) {
    t = &tree.traffic().ingress();
    what = "published";
  }
  if (t != nullptr) {
    absl::StrAppend(&out, "\n", what, " ", t->sequence(), ", ", BitRate(t->bytes_per_s()));
    if (t->lag_messages() > 0) absl::StrAppend(&out, ", lag ", t->lag_messages());
  }
  return out;
}

// A receiver (or the child of an edge) that lags.
bool Lagging(const v1::SourceTree& tree, const std::string& node) {
  if (!tree.has_traffic()) return false;
  auto r = tree.traffic().receivers().find(node);
  if (r != tree.traffic().receivers().end() && r->second.lagging()) return true;
  for (const v1::TreeEdge& e : tree.edges()) {
    if (e.child() == node && e.has_traffic() && e.traffic().lagging()) return true;
  }
  return false;
}

// The label of an edge: its cost, and with traffic its rate and lag.
std::string EdgeLabel(const v1::TreeEdge& e) {
  std::string label = e.via_multicast() ? "LAN multicast" : absl::StrCat(e.cost(), " µs");
  if (e.has_traffic()) {
    const v1::EdgeTraffic& t = e.traffic();
    absl::StrAppend(&label, "\n", BitRate(t.bytes_per_s()), "\nlag ", t.lag_messages());
    if (t.dropped_frames() > 0) absl::StrAppend(&label, ", drops ", t.dropped_frames());
  }
  return label;
}

// What the shapes and colours mean, in a box of its own.
void RenderLegend(std::string& out) {
  absl::StrAppend(&out, "  subgraph \"cluster_legend\" {\n");
  absl::StrAppend(&out, "    label=\"legend\";\n    style=dashed;\n");
  absl::StrAppend(&out,
                  "    \"legend/ingress\" [label=\"ingress (source's node)\", "
                  "shape=doubleoctagon, style=\"bold\"];\n");
  absl::StrAppend(&out,
                  "    \"legend/receiver\" [label=\"receiver (local subscribers)\", "
                  "shape=ellipse, style=\"filled\", fillcolor=palegreen];\n");
  absl::StrAppend(&out, "    \"legend/relay\" [label=\"relay\"];\n");
  absl::StrAppend(&out,
                  "    \"legend/trouble\" [label=\"over its fan-out limit, or lagging\", "
                  "color=red, fontcolor=red];\n");
  absl::StrAppend(&out,
                  "    \"legend/unreachable\" [label=\"member no tree reaches\", shape=ellipse, "
                  "style=dashed, color=red, fontcolor=red];\n");
  absl::StrAppend(&out,
                  "    \"legend/ingress\" -> \"legend/relay\" [label=\"link cost\\nrate, lag "
                  "(--rates)\"];\n");
  absl::StrAppend(&out,
                  "    \"legend/relay\" -> \"legend/receiver\" [label=\"LAN multicast\", "
                  "style=dashed];\n");
  absl::StrAppend(&out,
                  "    \"legend/relay\" -> \"legend/trouble\" [label=\"lagging child\", "
                  "color=red, fontcolor=red, penwidth=2];\n");
  absl::StrAppend(&out, "  }\n");
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
    const bool over = OverLimit(tree, node, used[node]);
    std::string attributes = absl::StrCat(
        "label=", Quote(absl::StrCat(node, "\n", FanOutLabel(tree, node, used[node]),
                                     over ? " OVER LIMIT" : "", NodeDetails(tree, node))));
    const bool root = node == tree.root();
    const bool receiver = receivers.contains(node);
    if (root) absl::StrAppend(&attributes, ", shape=doubleoctagon");
    if (receiver && !root) absl::StrAppend(&attributes, ", shape=ellipse");
    if (root || receiver) {
      absl::StrAppend(&attributes, ", style=",
                      Quote(root && receiver ? "bold,filled" : root ? "bold" : "filled"));
    }
    if (receiver) absl::StrAppend(&attributes, ", fillcolor=palegreen");
    if (over || Lagging(tree, node)) absl::StrAppend(&attributes, ", color=red, fontcolor=red");
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
    std::string attributes = absl::StrCat("label=", Quote(EdgeLabel(e)));
    if (e.via_multicast()) absl::StrAppend(&attributes, ", style=dashed");
    if (e.has_traffic() && e.traffic().lagging()) {
      absl::StrAppend(&attributes, ", color=red, fontcolor=red, penwidth=2");
    }
    absl::StrAppend(&out, "    ", NodeId(index, e.parent()), " -> ", NodeId(index, e.child()), " [",
                    attributes, "];\n");
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
  RenderLegend(out);
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace canopy::cli
