#include "cli/tree_text.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"

namespace canopy::cli {
namespace {

struct Child {
  std::string node;
  int64_t cost;
};

void RenderNode(const std::string& node, const std::string& prefix,
                const std::map<std::string, std::vector<Child>>& children,
                const std::set<std::string>& receivers, std::string& out) {
  auto it = children.find(node);
  if (it == children.end()) return;
  for (size_t i = 0; i < it->second.size(); ++i) {
    const Child& c = it->second[i];
    const bool last = i + 1 == it->second.size();
    absl::StrAppend(&out, prefix, last ? "└── " : "├── ", c.node, "  (cost ", c.cost, ")",
                    receivers.contains(c.node) ? "  *receives*" : "", "\n");
    RenderNode(c.node, absl::StrCat(prefix, last ? "    " : "│   "), children, receivers, out);
  }
}

}  // namespace

std::string RenderTreeText(const v1::GetTreeResponse& response) {
  std::string out;
  for (const v1::SourceTree& t : response.trees()) {
    std::map<std::string, std::vector<Child>> children;
    for (const v1::TreeEdge& e : t.edges()) children[e.parent()].push_back({e.child(), e.cost()});
    for (auto& [parent, list] : children) {
      std::sort(list.begin(), list.end(),
                [](const Child& a, const Child& b) { return a.node < b.node; });
    }
    std::set<std::string> receivers(t.receivers().begin(), t.receivers().end());
    absl::StrAppend(&out, "group ", response.group(), "  source ", t.source(), "  (total cost ",
                    t.cost(), ", ", t.receivers_size(), " receiving node(s))\n");
    absl::StrAppend(&out, t.root(), "  [ingress]",
                    receivers.contains(t.root()) ? "  *receives*" : "", "\n");
    RenderNode(t.root(), "", children, receivers, out);
  }
  if (response.trees().empty()) {
    absl::StrAppend(&out, "group ", response.group(), ": members but no active source\n");
  }
  return out;
}

}  // namespace canopy::cli
