// libFuzzer target for the static links file (`canopy-controller --links
// FILE`, controller/static_links.h).
//
// The input is the file's text. Whatever ParseStaticLinks returns is checked
// against what its contract promises: accepted links have valid, distinct
// node ids, a cost in 0..kMaxStaticLinkCostUs and no pair twice, one link per
// non-blank, non-comment line; a refusal is InvalidArgument "line N: reason"
// naming a line of the input, and every line before it parses. The result
// must not depend on how lines end (LF or CRLF), and the links re-rendered
// one per line parse back to the same links. A violation is reported with
// __builtin_trap() so libFuzzer records the input as a crash.
//
// Built with clang only; see tests/fuzz/run_fuzzer.sh for how it runs.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "controller/static_links.h"
#include "proto/validation.h"

namespace {

using canopy::controller::kMaxStaticLinkCostUs;
using canopy::controller::ParseStaticLinks;
using canopy::controller::StaticLink;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// Lines of `text` (split at '\n'; the last may be empty).
std::vector<absl::string_view> Lines(absl::string_view text) { return absl::StrSplit(text, '\n'); }

// True if the line holds a link: something other than spaces, tabs and CRs
// before any '#'.
bool HoldsLink(absl::string_view line) {
  line = line.substr(0, line.find('#'));
  return line.find_first_not_of(" \t\r") != absl::string_view::npos;
}

// The line number N of an error "line N: reason", or 0 if the message does
// not have that form or gives no reason.
int ErrorLine(absl::string_view message) {
  if (!absl::ConsumePrefix(&message, "line ")) return 0;
  const size_t colon = message.find(": ");
  int line = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(message.substr(0, colon), &line)) {
    return 0;
  }
  return message.size() > colon + 2 ? line : 0;
}

bool SameResult(const absl::StatusOr<std::vector<StaticLink>>& a,
                const absl::StatusOr<std::vector<StaticLink>>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.status() == b.status();
}

void CheckAccepted(const std::vector<StaticLink>& links, absl::string_view text) {
  size_t link_lines = 0;
  for (absl::string_view line : Lines(text)) link_lines += HoldsLink(line) ? 1 : 0;
  FUZZ_CHECK(links.size() == link_lines);

  std::set<std::pair<std::string, std::string>> pairs;
  std::string rendered;
  for (const StaticLink& link : links) {
    FUZZ_CHECK(canopy::ValidateNodeId(link.a).ok());
    FUZZ_CHECK(canopy::ValidateNodeId(link.b).ok());
    FUZZ_CHECK(link.a != link.b);
    FUZZ_CHECK(link.cost_us >= 0 && link.cost_us <= kMaxStaticLinkCostUs);
    FUZZ_CHECK(pairs.insert(std::minmax(link.a, link.b)).second);
    absl::StrAppend(&rendered, link.a, " ", link.b, " ", link.cost_us, "\n");
  }
  // What the parser accepted, written back in the canonical form, is the
  // same set of links.
  absl::StatusOr<std::vector<StaticLink>> again = ParseStaticLinks(rendered);
  FUZZ_CHECK(again.ok() && *again == links);
}

void CheckRefused(const absl::Status& status, absl::string_view text) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  const int line = ErrorLine(status.message());
  const std::vector<absl::string_view> lines = Lines(text);
  FUZZ_CHECK(line >= 1 && static_cast<size_t>(line) <= lines.size());
  FUZZ_CHECK(HoldsLink(lines[line - 1]));
  // The parser stops at the first bad line: the lines before it are a good
  // file, and the named line alone after them gives the same error.
  const size_t good_end = static_cast<size_t>(lines[line - 1].data() - text.data());
  FUZZ_CHECK(ParseStaticLinks(text.substr(0, good_end)).ok());
  const absl::StatusOr<std::vector<StaticLink>> cut =
      ParseStaticLinks(text.substr(0, good_end + lines[line - 1].size()));
  FUZZ_CHECK(!cut.ok() && cut.status() == status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<std::vector<StaticLink>> links = ParseStaticLinks(text);
  if (links.ok()) {
    CheckAccepted(*links, text);
  } else {
    CheckRefused(links.status(), text);
  }
  // A file written on Windows means the same.
  FUZZ_CHECK(SameResult(ParseStaticLinks(absl::StrReplaceAll(text, {{"\n", "\r\n"}})), links));
  return 0;
}
