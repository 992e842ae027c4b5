#ifndef CANOPY_CLI_TREE_TEXT_H_
#define CANOPY_CLI_TREE_TEXT_H_

#include <string>

#include "canopy/v1/controller.pb.h"

namespace canopy::cli {

// Renders a group's trees like `tree` renders a directory: the root (the
// source's ingress node), then children indented with link cost; nodes whose
// subscribers receive the source are marked. Deterministic (children in name
// order).
std::string RenderTreeText(const v1::GetTreeResponse& response);

}  // namespace canopy::cli

#endif  // CANOPY_CLI_TREE_TEXT_H_
