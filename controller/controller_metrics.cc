#include "controller/controller_metrics.h"

#include <string>
#include <utility>
#include <vector>

namespace canopy::controller {
namespace {

using ops::Family;
using ops::MetricType;
using ops::Sample;
using ops::SingleSampleFamily;

}  // namespace

ControllerMetrics::ControllerMetrics(ops::MetricsRegistry& registry)
    : registry_(registry),
      plan_seconds_(registry.AddHistogram(
          "canopy_controller_plan_duration_seconds",
          "Time from a change reaching the controller (node attach/detach/expiry, membership, "
          "sources, policy, links, re-optimisation) to the changed forwarding tables pushed.",
          {"event"}, ops::ExponentialBuckets(50e-6, 2, 17))),
      reports_refused_(registry.AddCounter(
          "canopy_controller_reports_refused_total",
          "Node reports refused as malformed or over a limit, or a hello from a certificate "
          "that is not the node's (the node's session is closed), by kind: hello, membership, "
          "sources, rtts, other, identity.",
          {"report"})) {}

std::function<void(const char*)> ControllerMetrics::RefusalObserver() {
  return [this](const char* report) { reports_refused_.Increment({report}); };
}

void ControllerMetrics::ObservePlan(const char* event, absl::Duration latency) {
  plan_seconds_.Observe({event}, absl::ToDoubleSeconds(latency));
}

std::function<void(const char*, absl::Duration)> ControllerMetrics::PlanObserver() {
  return [this](const char* event, absl::Duration latency) { ObservePlan(event, latency); };
}

void ControllerMetrics::CollectFrom(const ControllerCore& core) {
  registry_.AddCollector([&core](std::vector<Family>& out) {
    const v1::ControllerStats stats = core.Stats();
    out.push_back(SingleSampleFamily("canopy_controller_attached_nodes",
                                     "Nodes with a live session to this controller.",
                                     MetricType::kGauge, stats.nodes()));
    out.push_back(SingleSampleFamily("canopy_controller_groups",
                                     "Groups with at least one member node.", MetricType::kGauge,
                                     stats.groups()));
    out.push_back(SingleSampleFamily("canopy_controller_flows",
                                     "Active (group, source) flows with a tree.",
                                     MetricType::kGauge, stats.flows()));
    out.push_back(SingleSampleFamily("canopy_controller_static_links",
                                     "Static overlay links configured (0 = full mesh).",
                                     MetricType::kGauge, stats.static_links()));
    out.push_back(
        SingleSampleFamily("canopy_controller_full_plans_total",
                           "Trees planned from scratch (node arrivals and departures, policy and "
                           "link changes).",
                           MetricType::kCounter, stats.full_plans()));
    out.push_back(SingleSampleFamily("canopy_controller_incremental_changes_total",
                                     "Joins and leaves applied by grafting or pruning a tree.",
                                     MetricType::kCounter, stats.incremental_changes()));
    Family reoptimizations{
        "canopy_controller_reoptimizations_total",
        "Background re-optimisations: applied (gain above the hysteresis) "
        "or skipped.",
        MetricType::kCounter,
        {Sample{"", {{"result", "applied"}}, static_cast<double>(stats.reoptimizations_applied())},
         Sample{
             "", {{"result", "skipped"}}, static_cast<double>(stats.reoptimizations_skipped())}}};
    out.push_back(std::move(reoptimizations));
    out.push_back(SingleSampleFamily("canopy_controller_tables_pushed_total",
                                     "Forwarding tables sent to nodes.", MetricType::kCounter,
                                     stats.tables_pushed()));
    out.push_back(SingleSampleFamily("canopy_controller_nodes_expired_total",
                                     "Nodes declared dead after missing heartbeats.",
                                     MetricType::kCounter, stats.nodes_expired()));
    out.push_back(SingleSampleFamily(
        "canopy_controller_nodes_disconnected_stuck_total",
        "Node sessions closed because the node did not read its instructions in time "
        "(--drain-timeout-ms) or let them pile up past the bound.",
        MetricType::kCounter, stats.nodes_disconnected_stuck()));
    out.push_back(SingleSampleFamily(
        "canopy_controller_unreachable_members",
        "(member node, source) pairs where the node wants the source but no tree reaches it now.",
        MetricType::kGauge, stats.unreachable_members()));
    out.push_back(SingleSampleFamily("canopy_controller_last_full_plan_seconds",
                                     "Duration of the last full plan.", MetricType::kGauge,
                                     static_cast<double>(stats.last_full_plan_us()) / 1e6));

    Family members{"canopy_controller_group_member_nodes",
                   "Nodes with local subscribers of the group.",
                   MetricType::kGauge,
                   {}};
    Family versions{"canopy_controller_tree_version",
                    "Increases whenever the group's trees change.",
                    MetricType::kGauge,
                    {}};
    for (const auto& [group, gauges] : core.GroupGaugesSnapshot()) {
      members.samples.push_back(
          Sample{"", {{"group", group}}, static_cast<double>(gauges.member_nodes)});
      versions.samples.push_back(
          Sample{"", {{"group", group}}, static_cast<double>(gauges.tree_version)});
    }
    out.push_back(std::move(members));
    out.push_back(std::move(versions));
  });
}

}  // namespace canopy::controller
