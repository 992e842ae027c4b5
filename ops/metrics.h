#ifndef CANOPY_OPS_METRICS_H_
#define CANOPY_OPS_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ops/exposition.h"

namespace canopy::ops {

// Metrics a program updates as things happen (counters, gauges, histograms
// with labels) plus collectors that read other state at scrape time, all
// rendered in the Prometheus text format by MetricsRegistry::Render().
//
// Label values are given in the order of the family's label names. A call
// with the wrong number of label values is ignored (and asserts in debug
// builds): a metrics mistake never stops the program.

// A monotonically increasing count per label set. Thread-safe.
class CounterFamily {
 public:
  // Adds `delta` (ignored unless it is >= 0) to the series `label_values`.
  void Increment(const std::vector<std::string>& label_values, double delta = 1);

 private:
  friend class MetricsRegistry;
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  Family Snapshot() const;

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, double> values_ ABSL_GUARDED_BY(mu_);
};

// A value that goes up and down, per label set. Thread-safe.
class GaugeFamily {
 public:
  void Set(const std::vector<std::string>& label_values, double value);
  void Add(const std::vector<std::string>& label_values, double delta);
  // Drops the series (e.g. a peer that went away).
  void Remove(const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);
  Family Snapshot() const;

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, double> values_ ABSL_GUARDED_BY(mu_);
};

// Observations sorted into fixed buckets, per label set. Thread-safe.
class HistogramFamily {
 public:
  // Records one observation (NaN is ignored).
  void Observe(const std::vector<std::string>& label_values, double value);

 private:
  friend class MetricsRegistry;
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  Family Snapshot() const;

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // ascending
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, HistogramCounts> series_ ABSL_GUARDED_BY(mu_);
};

// Bucket bounds `start`, `start`·`factor`, … (`count` of them).
// REQUIRES: start > 0, factor > 1, count >= 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Owns the families and the collectors of one program.
//
// Thread-safe. Add* calls normally happen at start-up; the returned
// references stay valid for the registry's lifetime.
class MetricsRegistry {
 public:
  // Appends families read from other state at scrape time. Runs on the
  // scraping thread, concurrently with anything else; must not block for
  // long and must not call back into the registry.
  using Collector = std::function<void(std::vector<Family>& out)>;

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Creates a family. A name or label name that Prometheus would reject, a
  // counter not named "..._total", a name used twice, or histogram bounds
  // that are empty or not ascending are programming errors: the program
  // aborts with a message (fail fast on impossible state).
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  void AddCollector(Collector collector);

  // Every family (registered ones in order of creation, then each
  // collector's) in the text exposition format. Collector families that are
  // malformed or reuse a name are left out (see RenderExposition).
  std::string Render() const;

 private:
  void Claim(const std::string& name, MetricType type, const std::vector<std::string>& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  // One per family, in order of creation.
  std::vector<std::function<Family()>> snapshots_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// Adds canopy_build_info{version,commit} 1 (base/build_info.h), the build
// every server exports. REQUIRES: the program links canopy_build_info.
void AddBuildInfo(MetricsRegistry& registry);

}  // namespace canopy::ops

#endif  // CANOPY_OPS_METRICS_H_
