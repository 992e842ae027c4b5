#include "tests/system/prometheus_text.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace canopy::testing {
namespace {

bool IsMetricName(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_' || s[0] == ':')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == ':')) return false;
  }
  return true;
}

bool IsLabelName(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

std::optional<double> ParseValue(absl::string_view s) {
  if (s == "+Inf" || s == "Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (!(absl::ascii_isdigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return std::nullopt;
    }
  }
  const std::string copy(s);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

// Parses `name{a="x",b="y"} value [timestamp]` into `sample`.
absl::Status ParseSampleLine(absl::string_view line, PromSample& sample) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  sample.name = std::string(line.substr(0, i));
  if (!IsMetricName(sample.name)) return absl::InvalidArgumentError("bad metric name");
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      size_t eq = line.find('=', i);
      if (eq == absl::string_view::npos) return absl::InvalidArgumentError("label without =");
      const std::string label(line.substr(i, eq - i));
      if (!IsLabelName(label)) return absl::InvalidArgumentError("bad label name " + label);
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') return absl::InvalidArgumentError("unquoted value");
      ++i;
      std::string value;
      while (true) {
        if (i >= line.size()) return absl::InvalidArgumentError("unterminated label value");
        const char c = line[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= line.size()) return absl::InvalidArgumentError("dangling backslash");
          const char e = line[i++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            return absl::InvalidArgumentError("bad escape");
          }
        } else {
          value += c;
        }
      }
      if (!sample.labels.emplace(label, value).second) {
        return absl::InvalidArgumentError("label twice: " + label);
      }
      if (i < line.size() && line[i] == ',') {
        ++i;
      } else if (i >= line.size() || line[i] != '}') {
        return absl::InvalidArgumentError("expected , or }");
      }
    }
  }
  if (i >= line.size() || line[i] != ' ') return absl::InvalidArgumentError("no value");
  std::vector<absl::string_view> rest = absl::StrSplit(line.substr(i + 1), ' ');
  if (rest.empty() || rest.size() > 2) return absl::InvalidArgumentError("bad value/timestamp");
  std::optional<double> value = ParseValue(rest[0]);
  if (!value) return absl::InvalidArgumentError("bad value");
  sample.value = *value;
  if (rest.size() == 2) {
    for (char c : rest[1]) {
      if (!absl::ascii_isdigit(c) && c != '-') return absl::InvalidArgumentError("bad timestamp");
    }
  }
  return absl::OkStatus();
}

// The family a sample name belongs to, given the family's type.
bool BelongsTo(const PromFamily& family, const std::string& sample) {
  if (family.type == "histogram") {
    return sample == family.name + "_bucket" || sample == family.name + "_sum" ||
           sample == family.name + "_count";
  }
  if (family.type == "summary") {
    return sample == family.name || sample == family.name + "_sum" ||
           sample == family.name + "_count";
  }
  return sample == family.name;
}

absl::Status CheckHistogram(const PromFamily& family) {
  // Series (labels without le) → buckets in order, sum, count.
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, cumulative)
    std::optional<double> count;
    bool sum = false;
  };
  std::map<std::map<std::string, std::string>, Series> series;
  for (const PromSample& s : family.samples) {
    std::map<std::string, std::string> labels = s.labels;
    if (s.name == family.name + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) return absl::InvalidArgumentError("bucket without le");
      std::optional<double> bound = ParseValue(le->second);
      if (!bound) return absl::InvalidArgumentError("bad le " + le->second);
      labels.erase(le);
      series[labels].buckets.emplace_back(*bound, s.value);
    } else if (s.name == family.name + "_count") {
      series[labels].count = s.value;
    } else {
      series[labels].sum = true;
    }
  }
  for (const auto& [labels, s] : series) {
    if (s.buckets.empty() || !s.count || !s.sum) {
      return absl::InvalidArgumentError(family.name + ": series without buckets/_sum/_count");
    }
    for (size_t i = 1; i < s.buckets.size(); ++i) {
      if (!(s.buckets[i].first > s.buckets[i - 1].first) ||
          s.buckets[i].second < s.buckets[i - 1].second) {
        return absl::InvalidArgumentError(family.name + ": buckets not cumulative");
      }
    }
    if (!std::isinf(s.buckets.back().first) || s.buckets.back().second != *s.count) {
      return absl::InvalidArgumentError(family.name + ": +Inf bucket != _count");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, PromFamily>> ParsePrometheusText(absl::string_view text) {
  if (!text.empty() && text.back() != '\n') {
    return absl::InvalidArgumentError("text does not end with a line feed");
  }
  std::map<std::string, PromFamily> families;
  std::set<std::string> closed;  // families whose samples ended
  std::set<std::string> helped;
  std::set<std::pair<std::string, std::map<std::string, std::string>>> series;
  PromFamily* current = nullptr;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", why, ": ", line));
    };
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (parts.size() < 3 || (parts[1] != "HELP" && parts[1] != "TYPE")) continue;  // comment
      const std::string name(parts[2]);
      if (!IsMetricName(name)) return fail("bad family name");
      if (closed.count(name) > 0) return fail("family not contiguous");
      if (current != nullptr && current->name != name) closed.insert(current->name);
      PromFamily& family = families[name];
      family.name = name;
      if (current != &family && !family.samples.empty()) return fail("family not contiguous");
      current = &family;
      const std::string rest = parts.size() > 3 ? std::string(parts[3]) : "";
      if (parts[1] == "HELP") {
        if (!helped.insert(name).second) return fail("second HELP");
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && (i + 1 == rest.size() || (rest[++i] != '\\' && rest[i] != 'n'))) {
            return fail("bad escape in HELP");
          }
        }
        family.help = rest;
      } else {
        if (!family.type.empty()) return fail("second TYPE");
        if (!family.samples.empty()) return fail("TYPE after samples");
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
            rest != "untyped") {
          return fail("unknown type");
        }
        family.type = rest;
        if (rest == "counter" && !absl::EndsWith(name, "_total")) {
          return fail("counter not named *_total");
        }
      }
      continue;
    }
    PromSample sample;
    if (absl::Status s = ParseSampleLine(line, sample); !s.ok()) return fail(s.message());
    if (current == nullptr || current->type.empty()) return fail("sample without # TYPE");
    if (!BelongsTo(*current, sample.name)) return fail("sample of another family");
    if (current->type == "histogram" && sample.name != current->name + "_bucket" &&
        sample.labels.count("le") > 0) {
      return fail("le outside _bucket");
    }
    if (!series.emplace(sample.name, sample.labels).second) return fail("duplicate series");
    if (current->type == "counter" && !(sample.value >= 0)) return fail("negative counter");
    current->samples.push_back(std::move(sample));
  }
  for (const auto& [name, family] : families) {
    if (family.type.empty()) return absl::InvalidArgumentError(name + ": no # TYPE");
    if (family.type == "histogram") {
      if (absl::Status s = CheckHistogram(family); !s.ok()) return s;
    }
  }
  return families;
}

std::optional<double> FindSample(const std::map<std::string, PromFamily>& families,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels) {
  for (const auto& [family_name, family] : families) {
    for (const PromSample& s : family.samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
  }
  return std::nullopt;
}

}  // namespace canopy::testing
