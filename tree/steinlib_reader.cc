#include "tree/steinlib_reader.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace canopy::tree {
namespace {

enum class Section { kNone, kComment, kGraph, kTerminals, kOther };

class Parser {
 public:
  absl::StatusOr<SteinerInstance> Run(absl::string_view text) {
    int line_no = 0;
    for (absl::string_view raw : absl::StrSplit(text, '\n')) {
      ++line_no;
      line_ = line_no;
      absl::string_view line = absl::StripAsciiWhitespace(raw);
      if (line.empty()) continue;
      if (done_) return Error("text after EOF");
      if (absl::Status s = Line(line); !s.ok()) return s;
    }
    line_ = line_no;
    if (section_ != Section::kNone) return Error("unexpected end of file inside a SECTION");
    if (!seen_graph_) return Error("missing SECTION Graph");
    if (!seen_terminals_) return Error("missing SECTION Terminals");
    return std::move(instance_);
  }

 private:
  absl::Status Error(absl::string_view reason) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", reason));
  }

  absl::Status Int(absl::string_view token, int64_t& out) const {
    if (!absl::SimpleAtoi(token, &out)) {
      return Error(absl::StrCat("expected an integer, got \"", token, "\""));
    }
    return absl::OkStatus();
  }

  absl::Status Node(absl::string_view token, VertexId& out) const {
    int64_t id;
    if (absl::Status s = Int(token, id); !s.ok()) return s;
    if (!seen_nodes_) return Error("node id before the Nodes line");
    if (id < 1 || id > instance_.graph.VertexCount()) {
      return Error(absl::StrCat("node ", id, " outside 1..", instance_.graph.VertexCount()));
    }
    out = static_cast<VertexId>(id - 1);
    return absl::OkStatus();
  }

  absl::Status Line(absl::string_view line) {
    std::vector<absl::string_view> tok =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    std::string key = absl::AsciiStrToLower(tok[0]);
    if (section_ == Section::kNone) {
      if (key == "33d32945") {
        if (seen_anything_) return Error("header line must come first");
        seen_anything_ = true;
        return absl::OkStatus();
      }
      seen_anything_ = true;
      if (key == "eof") {
        done_ = true;
        return absl::OkStatus();
      }
      if (key != "section" || tok.size() < 2) {
        return Error(absl::StrCat("expected SECTION or EOF, got \"", tok[0], "\""));
      }
      std::string name = absl::AsciiStrToLower(tok[1]);
      if (name == "comment") {
        section_ = Section::kComment;
      } else if (name == "graph") {
        if (seen_graph_) return Error("second SECTION Graph");
        section_ = Section::kGraph;
        seen_graph_ = true;
      } else if (name == "terminals") {
        if (seen_terminals_) return Error("second SECTION Terminals");
        if (!seen_graph_) return Error("SECTION Terminals before SECTION Graph");
        section_ = Section::kTerminals;
        seen_terminals_ = true;
      } else {
        section_ = Section::kOther;
      }
      return absl::OkStatus();
    }
    if (key == "end") return EndSection();
    switch (section_) {
      case Section::kComment:
        if (key == "name" && tok.size() >= 2) {
          instance_.name = std::string(absl::StripSuffix(
              absl::StripPrefix(absl::StripAsciiWhitespace(line.substr(4)), "\""), "\""));
        }
        return absl::OkStatus();
      case Section::kOther:
        return absl::OkStatus();
      case Section::kGraph:
        return GraphLine(key, tok);
      case Section::kTerminals:
        return TerminalLine(key, tok);
      case Section::kNone:
        break;
    }
    return Error("internal parser state");
  }

  absl::Status Arity(const std::vector<absl::string_view>& tok, size_t want) const {
    if (tok.size() != want) {
      return Error(absl::StrCat("\"", tok[0], "\" takes ", want - 1, " value(s), got ",
                                tok.size() - 1));
    }
    return absl::OkStatus();
  }

  absl::Status GraphLine(const std::string& key, const std::vector<absl::string_view>& tok) {
    if (key == "nodes") {
      if (absl::Status s = Arity(tok, 2); !s.ok()) return s;
      if (seen_nodes_) return Error("second Nodes line");
      int64_t n;
      if (absl::Status s = Int(tok[1], n); !s.ok()) return s;
      if (n < 1 || n > kMaxSteinLibNodes) return Error(absl::StrCat("Nodes ", n, " out of range"));
      for (int64_t i = 1; i <= n; ++i) {
        instance_.graph.AddVertex(VertexInfo{absl::StrCat(i), 0, 0, ""});
      }
      seen_nodes_ = true;
      return absl::OkStatus();
    }
    if (key == "edges" || key == "arcs") {
      if (absl::Status s = Arity(tok, 2); !s.ok()) return s;
      if (declared_edges_ >= 0) return Error("second Edges line");
      if (absl::Status s = Int(tok[1], declared_edges_); !s.ok()) return s;
      if (declared_edges_ < 0) return Error("negative edge count");
      return absl::OkStatus();
    }
    if (key == "e" || key == "a") {
      if (absl::Status s = Arity(tok, 4); !s.ok()) return s;
      VertexId u, v;
      int64_t w;
      if (absl::Status s = Node(tok[1], u); !s.ok()) return s;
      if (absl::Status s = Node(tok[2], v); !s.ok()) return s;
      if (absl::Status s = Int(tok[3], w); !s.ok()) return s;
      if (u == v) return Error(absl::StrCat("self loop at node ", u + 1));
      if (w < 0) return Error(absl::StrCat("negative weight ", w));
      if (w > (int64_t{1} << 40)) return Error(absl::StrCat("weight ", w, " too large"));
      if (absl::Status s = instance_.graph.AddEdge(u, v, w); !s.ok()) return Error(s.message());
      ++edge_lines_;
      return absl::OkStatus();
    }
    return Error(absl::StrCat("unknown keyword \"", tok[0], "\" in SECTION Graph"));
  }

  absl::Status TerminalLine(const std::string& key, const std::vector<absl::string_view>& tok) {
    if (key == "terminals") {
      if (absl::Status s = Arity(tok, 2); !s.ok()) return s;
      if (declared_terminals_ >= 0) return Error("second Terminals line");
      if (absl::Status s = Int(tok[1], declared_terminals_); !s.ok()) return s;
      if (declared_terminals_ < 0) return Error("negative terminal count");
      return absl::OkStatus();
    }
    if (key == "t" || key == "root") {
      if (absl::Status s = Arity(tok, 2); !s.ok()) return s;
      VertexId t;
      if (absl::Status s = Node(tok[1], t); !s.ok()) return s;
      if (key == "root") {
        instance_.root = t;
        return absl::OkStatus();
      }
      if (is_terminal_.empty()) is_terminal_.assign(instance_.graph.VertexCount(), 0);
      if (is_terminal_[t]) return Error(absl::StrCat("duplicate terminal ", t + 1));
      is_terminal_[t] = 1;
      instance_.terminals.push_back(t);
      return absl::OkStatus();
    }
    return Error(absl::StrCat("unknown keyword \"", tok[0], "\" in SECTION Terminals"));
  }

  absl::Status EndSection() {
    if (section_ == Section::kGraph) {
      if (!seen_nodes_) return Error("SECTION Graph has no Nodes line");
      if (declared_edges_ >= 0 && declared_edges_ != edge_lines_) {
        return Error(absl::StrCat("Edges says ", declared_edges_, " but ", edge_lines_,
                                  " edge lines were given"));
      }
    }
    if (section_ == Section::kTerminals) {
      int64_t count = static_cast<int64_t>(instance_.terminals.size());
      if (declared_terminals_ >= 0 && declared_terminals_ != count) {
        return Error(absl::StrCat("Terminals says ", declared_terminals_, " but ", count,
                                  " T lines were given"));
      }
      if (count == 0) return Error("no terminals");
    }
    section_ = Section::kNone;
    return absl::OkStatus();
  }

  SteinerInstance instance_;
  Section section_ = Section::kNone;
  int line_ = 0;
  bool done_ = false;
  bool seen_anything_ = false;
  bool seen_graph_ = false;
  bool seen_terminals_ = false;
  bool seen_nodes_ = false;
  int64_t declared_edges_ = -1;
  int64_t edge_lines_ = 0;
  int64_t declared_terminals_ = -1;
  std::vector<char> is_terminal_;
};

}  // namespace

absl::StatusOr<SteinerInstance> ParseSteinLib(absl::string_view text) {
  return Parser().Run(text);
}

absl::StatusOr<SteinerInstance> ParseSteinLib(std::istream& in) {
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseSteinLib(buffer.str());
}

absl::StatusOr<SteinerInstance> ReadSteinLibFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  absl::StatusOr<SteinerInstance> result = ParseSteinLib(in);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(path, ":", result.status().message()));
  }
  return result;
}

}  // namespace canopy::tree
