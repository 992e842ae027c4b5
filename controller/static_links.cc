#include "controller/static_links.h"

#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proto/validation.h"

namespace canopy::controller {

absl::StatusOr<std::vector<StaticLink>> ParseStaticLinks(absl::string_view text) {
  std::vector<StaticLink> links;
  std::set<std::pair<std::string, std::string>> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", why));
    };
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() != 3) {
      return error(absl::StrCat("want 'NODE_A NODE_B COST_US', got ", fields.size(), " field(s)"));
    }
    for (int i = 0; i < 2; ++i) {
      if (absl::Status s = ValidateNodeId(fields[i]); !s.ok()) return error(s.message());
    }
    if (fields[0] == fields[1]) return error(absl::StrCat("link from ", fields[0], " to itself"));
    int64_t cost = 0;
    if (!absl::SimpleAtoi(fields[2], &cost) || cost < 0 || cost > kMaxStaticLinkCostUs) {
      return error(absl::StrCat("cost '", fields[2], "' is not a whole number of µs in 0..",
                                kMaxStaticLinkCostUs));
    }
    std::string a(fields[0]), b(fields[1]);
    auto key = a < b ? std::make_pair(a, b) : std::make_pair(b, a);
    if (!seen.insert(key).second) {
      return error(absl::StrCat("link ", key.first, " - ", key.second, " given twice"));
    }
    links.push_back(StaticLink{std::move(a), std::move(b), cost});
  }
  return links;
}

}  // namespace canopy::controller
