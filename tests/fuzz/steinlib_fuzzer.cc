// libFuzzer target for the SteinLib / PACE 2018 reader (tree/steinlib_reader.h).
//
// The input is the text of an .stp (or .gr) file. A refusal must be
// InvalidArgument "line N: reason" naming a line of the input. An accepted
// instance must keep the reader's promises: 1..kMaxSteinLibNodes vertices
// named "1".."n"; edges between distinct existing vertices with a cost in
// 0..2^40, stored once each and symmetrically, no more than there are E
// lines, and a declared Edges count equal to the number of E lines;
// terminals that exist, are distinct and as many as a declared Terminals
// count; a root that exists.
// Written back as a canonical STP file it must read as the same instance;
// reading from a stream, or with CRLF line ends, must give the same result.
// A violation is reported with __builtin_trap() so libFuzzer records the
// input as a crash.
//
// Built with clang only; see tests/fuzz/run_fuzzer.sh for how it runs.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "tree/overlay_graph.h"
#include "tree/steinlib_reader.h"

namespace {

using canopy::tree::Edge;
using canopy::tree::kNoVertex;
using canopy::tree::ParseSteinLib;
using canopy::tree::SteinerInstance;
using canopy::tree::VertexId;

// Largest edge weight the reader accepts.
constexpr int64_t kMaxWeight = int64_t{1} << 40;

// Inputs declaring more nodes than this (and no more than the reader
// accepts) are not run: reading is linear in the declared count, and with
// the sanitizers a read of kMaxSteinLibNodes nodes takes seconds, which
// libFuzzer would report as a timeout. Smaller counts take the same paths.
constexpr int64_t kMaxFuzzedNodes = 10'000;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// What the file says about itself, read line by line without judging it:
// the largest Nodes count, the number of E/A lines in SECTION Graph and the
// last Edges and Terminals counts there and in SECTION Terminals.
struct Declared {
  int64_t nodes = -1;
  int64_t edge_lines = 0;
  int64_t edges = -1;
  int64_t terminals = -1;
};

Declared ScanDeclared(absl::string_view text) {
  Declared d;
  std::string section;  // lower case; empty outside a section
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> tok = absl::StrSplit(
        absl::StripAsciiWhitespace(line), absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (tok.empty()) continue;
    const std::string key = absl::AsciiStrToLower(tok[0]);
    if (section.empty()) {
      if (key == "section" && tok.size() >= 2) section = absl::AsciiStrToLower(tok[1]);
      continue;
    }
    if (key == "end") {
      section.clear();
      continue;
    }
    int64_t n = 0;
    const bool count = tok.size() == 2 && absl::SimpleAtoi(tok[1], &n);
    if (section == "graph") {
      if (key == "nodes" && count) d.nodes = std::max(d.nodes, n);
      if (key == "e" || key == "a") ++d.edge_lines;
      if ((key == "edges" || key == "arcs") && count) d.edges = n;
    }
    if (section == "terminals" && key == "terminals" && count) d.terminals = n;
  }
  return d;
}

std::vector<std::tuple<VertexId, VertexId, int64_t>> SortedEdges(const SteinerInstance& inst) {
  std::vector<std::tuple<VertexId, VertexId, int64_t>> out;
  for (const Edge& e : inst.graph.Edges()) out.emplace_back(e.u, e.v, e.cost);
  std::sort(out.begin(), out.end());
  return out;
}

bool SameInstance(const SteinerInstance& a, const SteinerInstance& b) {
  return a.name == b.name && a.graph.VertexCount() == b.graph.VertexCount() &&
         a.terminals == b.terminals && a.root == b.root && SortedEdges(a) == SortedEdges(b);
}

bool SameResult(const absl::StatusOr<SteinerInstance>& a,
                const absl::StatusOr<SteinerInstance>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? SameInstance(*a, *b) : a.status() == b.status();
}

// The instance as a canonical STP file.
std::string Render(const SteinerInstance& inst) {
  std::string out = "33D32945 STP File, STP Format Version 1.0\n";
  if (!inst.name.empty()) absl::StrAppend(&out, "SECTION Comment\nName \"", inst.name, "\"\nEND\n");
  const std::vector<Edge> edges = inst.graph.Edges();
  absl::StrAppend(&out, "SECTION Graph\nNodes ", inst.graph.VertexCount(), "\nEdges ", edges.size(),
                  "\n");
  for (const Edge& e : edges) absl::StrAppend(&out, "E ", e.u + 1, " ", e.v + 1, " ", e.cost, "\n");
  absl::StrAppend(&out, "END\nSECTION Terminals\nTerminals ", inst.terminals.size(), "\n");
  for (VertexId t : inst.terminals) absl::StrAppend(&out, "T ", t + 1, "\n");
  if (inst.root != kNoVertex) absl::StrAppend(&out, "Root ", inst.root + 1, "\n");
  absl::StrAppend(&out, "END\nEOF\n");
  return out;
}

void CheckAccepted(const SteinerInstance& inst, absl::string_view text) {
  const VertexId n = inst.graph.VertexCount();
  FUZZ_CHECK(n >= 1 && n <= canopy::tree::kMaxSteinLibNodes);
  for (VertexId v = 0; v < n; ++v) FUZZ_CHECK(inst.graph.Vertex(v).name == absl::StrCat(v + 1));
  FUZZ_CHECK(inst.root == kNoVertex || (inst.root >= 0 && inst.root < n));

  const std::vector<Edge> edges = inst.graph.Edges();
  std::set<std::pair<VertexId, VertexId>> seen;
  size_t adjacency = 0;
  for (VertexId v = 0; v < n; ++v) adjacency += inst.graph.Adjacent(v).size();
  FUZZ_CHECK(adjacency == 2 * edges.size());
  for (const Edge& e : edges) {
    FUZZ_CHECK(e.u >= 0 && e.u < e.v && e.v < n);
    FUZZ_CHECK(e.cost >= 0 && e.cost <= kMaxWeight);
    FUZZ_CHECK(seen.insert({e.u, e.v}).second);
    FUZZ_CHECK(inst.graph.Cost(e.u, e.v) == e.cost && inst.graph.Cost(e.v, e.u) == e.cost);
  }

  FUZZ_CHECK(!inst.terminals.empty());
  std::set<VertexId> terminals;
  for (VertexId t : inst.terminals) {
    FUZZ_CHECK(t >= 0 && t < n);
    FUZZ_CHECK(terminals.insert(t).second);
  }

  const Declared declared = ScanDeclared(text);
  FUZZ_CHECK(static_cast<int64_t>(edges.size()) <= declared.edge_lines);
  if (declared.edges >= 0) FUZZ_CHECK(declared.edges == declared.edge_lines);
  if (declared.terminals >= 0) {
    FUZZ_CHECK(declared.terminals == static_cast<int64_t>(inst.terminals.size()));
  }

  // Written back, it reads as the same instance.
  absl::StatusOr<SteinerInstance> again = ParseSteinLib(Render(inst));
  FUZZ_CHECK(again.ok() && SameInstance(*again, inst));
}

void CheckRefused(const absl::Status& status, absl::string_view text) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  absl::string_view message = status.message();
  FUZZ_CHECK(absl::ConsumePrefix(&message, "line "));
  const size_t colon = message.find(": ");
  int line = 0;
  FUZZ_CHECK(colon != absl::string_view::npos && absl::SimpleAtoi(message.substr(0, colon), &line));
  FUZZ_CHECK(message.size() > colon + 2);
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  FUZZ_CHECK(line >= 1 && static_cast<size_t>(line) <= lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const int64_t nodes = ScanDeclared(text).nodes;
  if (nodes > kMaxFuzzedNodes && nodes <= canopy::tree::kMaxSteinLibNodes) return 0;

  const absl::StatusOr<SteinerInstance> inst = ParseSteinLib(text);
  if (inst.ok()) {
    CheckAccepted(*inst, text);
  } else {
    CheckRefused(inst.status(), text);
  }

  std::istringstream in{std::string(text)};
  FUZZ_CHECK(SameResult(ParseSteinLib(in), inst));
  FUZZ_CHECK(SameResult(ParseSteinLib(absl::StrReplaceAll(text, {{"\n", "\r\n"}})), inst));
  return 0;
}
