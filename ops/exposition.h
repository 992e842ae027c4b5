#ifndef CANOPY_OPS_EXPOSITION_H_
#define CANOPY_OPS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace canopy::ops {

// The Prometheus text exposition format, version 0.0.4: what a /metrics
// scrape returns. Pure functions and plain data; no locks, no I/O.

// Content-Type of a scrape response.
inline constexpr absl::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

// "counter", "gauge" or "histogram": the word of a # TYPE line.
absl::string_view MetricTypeName(MetricType type);

// Label name → value, in the order they are printed.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// One line of a family: `name``suffix`{labels} value. `suffix` is "" for
// counters and gauges, "_bucket", "_sum" or "_count" for histograms.
struct Sample {
  std::string suffix;
  LabelPairs labels;
  double value = 0;
};

// A metric family: one # HELP and one # TYPE line, then its samples.
// Counter names end in "_total" (Prometheus convention).
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

// A family with one unlabelled sample.
Family SingleSampleFamily(std::string name, std::string help, MetricType type, double value);

// Bucket counts of one histogram series. `counts[i]` counts observations in
// (bounds[i-1], bounds[i]]; the last entry (index bounds.size()) counts those
// above every bound. REQUIRES: counts.size() == bounds.size() + 1.
struct HistogramCounts {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
};

// True for [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(absl::string_view name);
// True for [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (reserved).
bool IsValidLabelName(absl::string_view name);

// Escapes a label value: backslash, double quote and line feed become \\, \"
// and \n.
std::string EscapeLabelValue(absl::string_view value);
// Escapes HELP text: backslash and line feed become \\ and \n.
std::string EscapeHelp(absl::string_view help);
// A sample value: integers without a fraction, others with full precision,
// and "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

// Appends the series of one histogram to `family` (whose type must be
// kHistogram): cumulative _bucket samples with an `le` label (the last one
// le="+Inf"), then _sum and _count. `labels` must not contain "le".
void AppendHistogram(Family& family, const LabelPairs& labels, const HistogramCounts& histogram);

// OK if the family can be rendered: valid metric and label names, no
// duplicate label in a sample, suffixes that fit the type ("" for counters
// and gauges; "_bucket" with an "le" label, "_sum" or "_count" for
// histograms), and counters named "..._total". InvalidArgument naming the
// problem otherwise.
absl::Status ValidateFamily(const Family& family);

// Renders `families` in order as exposition text. A family that fails
// ValidateFamily, or repeats the name of an earlier one, is left out and
// counted in `*skipped` (if not null); the text stays well-formed.
std::string RenderExposition(const std::vector<Family>& families, int* skipped = nullptr);

}  // namespace canopy::ops

#endif  // CANOPY_OPS_EXPOSITION_H_
