#ifndef CANOPY_CONTROLLER_CONTROLLER_METRICS_H_
#define CANOPY_CONTROLLER_CONTROLLER_METRICS_H_

#include <functional>

#include "absl/time/time.h"
#include "controller/controller_core.h"
#include "ops/metrics.h"

namespace canopy::controller {

// The controller's Prometheus metrics (docs/operations.md lists them): a
// plan-latency histogram fed by ControllerOptions::on_planned, and gauges
// and counters read from ControllerCore at every scrape.
//
// Thread-safe.
class ControllerMetrics {
 public:
  // Registers the families on `registry`, which must outlive this object.
  explicit ControllerMetrics(ops::MetricsRegistry& registry);
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  // Records one planned change (what ControllerOptions::on_planned gets).
  void ObservePlan(const char* event, absl::Duration latency);
  // ObservePlan as a callback for ControllerOptions::on_planned.
  // REQUIRES: this object outlives the core.
  std::function<void(const char*, absl::Duration)> PlanObserver();

  // Counts a node report refused as malformed or from the wrong identity,
  // by kind; as a callback for ControllerService. REQUIRES: this object
  // outlives the service.
  std::function<void(const char*)> RefusalObserver();

  // Reads `core` at every scrape from now on. REQUIRES: called once; `core`
  // outlives every scrape (stop the metrics server before destroying it).
  void CollectFrom(const ControllerCore& core);

 private:
  ops::MetricsRegistry& registry_;
  ops::HistogramFamily& plan_seconds_;
  ops::CounterFamily& reports_refused_;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_CONTROLLER_METRICS_H_
