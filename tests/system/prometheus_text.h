#ifndef CANOPY_TESTS_SYSTEM_PROMETHEUS_TEXT_H_
#define CANOPY_TESTS_SYSTEM_PROMETHEUS_TEXT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace canopy::testing {

// A strict parser of the Prometheus text exposition format 0.0.4, for tests
// that scrape /metrics.

struct PromSample {
  std::string name;  // full sample name, e.g. "x_bucket"
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string help;
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::vector<PromSample> samples;
};

// Parses `text`; fails (InvalidArgument "line N: …") on anything a strict
// reader should reject: a malformed line, name, label or value; a bad escape;
// a sample before its family's # TYPE line or of another family; a family
// whose samples are not contiguous or whose HELP/TYPE repeats; a duplicate
// series; a negative counter; a counter not named *_total; histogram samples
// other than _bucket{le}/_sum/_count, buckets not cumulative or without
// le="+Inf", or _count differing from the +Inf bucket. Also fails if the
// text does not end with a line feed.
absl::StatusOr<std::map<std::string, PromFamily>> ParsePrometheusText(absl::string_view text);

// The value of the sample `name` with exactly `labels` in `families`.
std::optional<double> FindSample(const std::map<std::string, PromFamily>& families,
                                 const std::string& name,
                                 const std::map<std::string, std::string>& labels = {});

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_PROMETHEUS_TEXT_H_
