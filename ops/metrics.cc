#include "ops/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "base/build_info.h"

namespace canopy::ops {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "metrics registry: %s\n", message.c_str());
  std::abort();
}

bool ArityOk(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  const bool ok = names.size() == values.size();
  assert(ok && "wrong number of label values");
  return ok;
}

LabelPairs Pairs(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  LabelPairs pairs;
  pairs.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], values[i]);
  return pairs;
}

}  // namespace

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void CounterFamily::Increment(const std::vector<std::string>& label_values, double delta) {
  if (!ArityOk(label_names_, label_values) || !(delta >= 0)) return;
  absl::MutexLock lock(&mu_);
  values_[label_values] += delta;
}

Family CounterFamily::Snapshot() const {
  Family family{name_, help_, MetricType::kCounter, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [values, value] : values_) {
    family.samples.push_back(Sample{"", Pairs(label_names_, values), value});
  }
  return family;
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void GaugeFamily::Set(const std::vector<std::string>& label_values, double value) {
  if (!ArityOk(label_names_, label_values)) return;
  absl::MutexLock lock(&mu_);
  values_[label_values] = value;
}

void GaugeFamily::Add(const std::vector<std::string>& label_values, double delta) {
  if (!ArityOk(label_names_, label_values)) return;
  absl::MutexLock lock(&mu_);
  values_[label_values] += delta;
}

void GaugeFamily::Remove(const std::vector<std::string>& label_values) {
  absl::MutexLock lock(&mu_);
  values_.erase(label_values);
}

Family GaugeFamily::Snapshot() const {
  Family family{name_, help_, MetricType::kGauge, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [values, value] : values_) {
    family.samples.push_back(Sample{"", Pairs(label_names_, values), value});
  }
  return family;
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

void HistogramFamily::Observe(const std::vector<std::string>& label_values, double value) {
  if (!ArityOk(label_names_, label_values) || std::isnan(value)) return;
  // First bound >= value: buckets are upper-inclusive ("le").
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  HistogramCounts& h = series_[label_values];
  if (h.counts.empty()) {
    h.bounds = bounds_;
    h.counts.assign(bounds_.size() + 1, 0);
  }
  ++h.counts[bucket];
  h.sum += value;
}

Family HistogramFamily::Snapshot() const {
  Family family{name_, help_, MetricType::kHistogram, {}};
  absl::MutexLock lock(&mu_);
  for (const auto& [values, counts] : series_) {
    AppendHistogram(family, Pairs(label_names_, values), counts);
  }
  return family;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

void MetricsRegistry::Claim(const std::string& name, MetricType type,
                            const std::vector<std::string>& labels) {
  Family probe{name, "", type, {}};
  Sample sample{type == MetricType::kHistogram ? "_sum" : "", {}, 0};
  for (const std::string& label : labels) {
    if (label == "le" && type == MetricType::kHistogram) Die(name + ": label 'le' is reserved");
    sample.labels.emplace_back(label, "");
  }
  probe.samples.push_back(std::move(sample));
  if (absl::Status s = ValidateFamily(probe); !s.ok()) Die(std::string(s.message()));
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
    Die(name + ": registered twice");
  }
  names_.push_back(name);
}

CounterFamily& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                           std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Claim(name, MetricType::kCounter, label_names);
  counters_.push_back(
      std::unique_ptr<CounterFamily>(new CounterFamily(name, help, std::move(label_names))));
  CounterFamily* family = counters_.back().get();
  snapshots_.push_back([family] { return family->Snapshot(); });
  return *family;
}

GaugeFamily& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Claim(name, MetricType::kGauge, label_names);
  gauges_.push_back(
      std::unique_ptr<GaugeFamily>(new GaugeFamily(name, help, std::move(label_names))));
  GaugeFamily* family = gauges_.back().get();
  snapshots_.push_back([family] { return family->Snapshot(); });
  return *family;
}

HistogramFamily& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  Claim(name, MetricType::kHistogram, label_names);
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      std::any_of(bounds.begin(), bounds.end(), [](double b) { return !std::isfinite(b); })) {
    Die(name + ": histogram bounds must be finite and strictly ascending");
  }
  histograms_.push_back(std::unique_ptr<HistogramFamily>(
      new HistogramFamily(name, help, std::move(label_names), std::move(bounds))));
  HistogramFamily* family = histograms_.back().get();
  snapshots_.push_back([family] { return family->Snapshot(); });
  return *family;
}

void MetricsRegistry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  std::vector<std::function<Family()>> snapshots;
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    snapshots = snapshots_;
    collectors = collectors_;
  }
  std::vector<Family> families;
  for (const auto& snapshot : snapshots) families.push_back(snapshot());
  for (const Collector& collect : collectors) collect(families);
  return RenderExposition(families);
}

void AddBuildInfo(MetricsRegistry& registry) {
  registry
      .AddGauge("canopy_build_info", "The running build: version and git commit (always 1).",
                {"version", "commit"})
      .Set({BuildVersion(), BuildCommit()}, 1);
}

}  // namespace canopy::ops
