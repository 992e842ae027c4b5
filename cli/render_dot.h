#ifndef CANOPY_CLI_RENDER_DOT_H_
#define CANOPY_CLI_RENDER_DOT_H_

#include <string>

#include "canopy/v1/controller.pb.h"

namespace canopy::cli {

// The group's trees as one Graphviz digraph for `dot -Tsvg`: one cluster
// per source (in response order) labelled with source, profile and total
// cost; nodes labelled with id, fan-out and upload capacity (when known);
// edges labelled with their cost in µs and, with traffic, their rate and
// lag. The ingress is a bold double octagon, receivers are filled
// ellipses; a node over its fan-out limit, a lagging child and its edge are
// red; members no tree reaches are dashed red. A legend cluster says so.
// Node names are quoted and escaped, so any string is safe. Pure and
// deterministic (edges in the response's order); ends with a newline.
std::string RenderTreeDot(const v1::GetTreeResponse& response);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_RENDER_DOT_H_
