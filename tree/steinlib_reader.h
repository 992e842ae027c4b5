#ifndef CANOPY_TREE_STEINLIB_READER_H_
#define CANOPY_TREE_STEINLIB_READER_H_

#include <istream>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "tree/overlay_graph.h"

namespace canopy::tree {

// A Steiner tree instance read from a SteinLib `.stp` or PACE 2018 `.gr`
// file. File node k (1-based) is graph vertex k-1, named "k".
struct SteinerInstance {
  std::string name;                  // from `Name "..."` if present
  OverlayGraph graph;
  std::vector<VertexId> terminals;   // in file order
  VertexId root = kNoVertex;         // from `Root r` if present
};

// Largest node count a file may declare (the largest SteinLib instance has
// 38,418 nodes): reading is linear in the declared count, so a corrupt
// header must not make it allocate gigabytes.
inline constexpr int64_t kMaxSteinLibNodes = 1'000'000;

// Parses the text of a SteinLib STP file (with or without the "33D32945"
// header line, which PACE files omit). Understands SECTION Comment, Graph
// (Nodes, Edges, E/A lines), Terminals (Terminals, T, Root) and skips other
// sections' bodies; keywords are case-insensitive. Parallel edges keep the
// cheapest cost.
//
// Returns InvalidArgument "line N: reason" for any malformed input: unknown
// keyword, bad or out-of-range number (Nodes above kMaxSteinLibNodes), node
// id outside 1..Nodes, self loop, negative weight, count mismatch, duplicate
// terminal, missing section or END, truncated file. Never crashes.
absl::StatusOr<SteinerInstance> ParseSteinLib(absl::string_view text);

// As ParseSteinLib, reading the whole stream first.
absl::StatusOr<SteinerInstance> ParseSteinLib(std::istream& in);

// Reads and parses a file. NotFound if it cannot be opened; errors are
// prefixed with the path ("path:line N: reason").
absl::StatusOr<SteinerInstance> ReadSteinLibFile(const std::string& path);

}  // namespace canopy::tree

#endif  // CANOPY_TREE_STEINLIB_READER_H_
