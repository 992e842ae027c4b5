#include "ops/exposition.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace canopy::ops {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

absl::Status ValidateSample(const Family& family, const Sample& sample) {
  std::set<absl::string_view> seen;
  bool has_le = false;
  for (const auto& [name, value] : sample.labels) {
    if (!IsValidLabelName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(family.name, ": invalid label name '", name, "'"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(family.name, ": label '", name, "' twice"));
    }
    if (name == "le") has_le = true;
  }
  if (family.type != MetricType::kHistogram) {
    if (!sample.suffix.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(family.name, ": suffix '", sample.suffix,
                                                     "' on a ", MetricTypeName(family.type)));
    }
    return absl::OkStatus();
  }
  if (sample.suffix == "_bucket") {
    if (!has_le)
      return absl::InvalidArgumentError(absl::StrCat(family.name, ": bucket without le"));
  } else if (sample.suffix == "_sum" || sample.suffix == "_count") {
    if (has_le) {
      return absl::InvalidArgumentError(absl::StrCat(family.name, ": le on ", sample.suffix));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(family.name, ": suffix '", sample.suffix, "' on a histogram"));
  }
  return absl::OkStatus();
}

void AppendSample(const Family& family, const Sample& sample, std::string& out) {
  absl::StrAppend(&out, family.name, sample.suffix);
  if (!sample.labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [name, value] : sample.labels) {
      if (!first) out += ',';
      first = false;
      absl::StrAppend(&out, name, "=\"", EscapeLabelValue(value), "\"");
    }
    out += '}';
  }
  absl::StrAppend(&out, " ", FormatValue(sample.value), "\n");
}

}  // namespace

absl::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  for (char c : name) {
    if (!IsNameChar(c) && c != ':') return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || absl::StartsWith(name, "__")) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integers up to 2^53 are exact in a double: print them without exponent.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest of %.15g … %.17g that reads back as the same double.
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

void AppendHistogram(Family& family, const LabelPairs& labels, const HistogramCounts& histogram) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < histogram.counts.size(); ++i) {
    cumulative += histogram.counts[i];
    LabelPairs with_le = labels;
    with_le.emplace_back("le",
                         i < histogram.bounds.size() ? FormatValue(histogram.bounds[i]) : "+Inf");
    family.samples.push_back(
        Sample{"_bucket", std::move(with_le), static_cast<double>(cumulative)});
  }
  family.samples.push_back(Sample{"_sum", labels, histogram.sum});
  family.samples.push_back(Sample{"_count", labels, static_cast<double>(cumulative)});
}

absl::Status ValidateFamily(const Family& family) {
  if (!IsValidMetricName(family.name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", family.name, "'"));
  }
  if (family.type == MetricType::kCounter && !absl::EndsWith(family.name, "_total")) {
    return absl::InvalidArgumentError(
        absl::StrCat("counter '", family.name, "' does not end in _total"));
  }
  for (const Sample& sample : family.samples) {
    if (absl::Status s = ValidateSample(family, sample); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string RenderExposition(const std::vector<Family>& families, int* skipped) {
  std::string out;
  std::set<std::string> names;
  int left_out = 0;
  for (const Family& family : families) {
    if (!ValidateFamily(family).ok() || !names.insert(family.name).second) {
      ++left_out;
      continue;
    }
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help), "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", MetricTypeName(family.type), "\n");
    for (const Sample& sample : family.samples) AppendSample(family, sample, out);
  }
  if (skipped != nullptr) *skipped = left_out;
  return out;
}

Family SingleSampleFamily(std::string name, std::string help, MetricType type, double value) {
  return Family{std::move(name), std::move(help), type, {Sample{"", {}, value}}};
}

}  // namespace canopy::ops
