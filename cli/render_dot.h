#ifndef CANOPY_CLI_RENDER_DOT_H_
#define CANOPY_CLI_RENDER_DOT_H_

#include <string>

#include "canopy/v1/controller.pb.h"

namespace canopy::cli {

// The group's trees as one Graphviz digraph for `dot -Tsvg`: one cluster
// per source (in response order) labelled with source, profile and total
// cost; nodes labelled with id and fan-out; edges labelled with their cost in
// µs. The ingress is a bold double octagon, receivers are filled ellipses.
// Node names are quoted and escaped, so any string is safe. Pure and
// deterministic (edges in the response's order); ends with a newline.
std::string RenderTreeDot(const v1::GetTreeResponse& response);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_RENDER_DOT_H_
