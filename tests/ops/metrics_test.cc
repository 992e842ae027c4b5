#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/metrics.h"

namespace canopy::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, CountersGaugesAndHistogramsRender) {
  MetricsRegistry registry;
  CounterFamily& frames = registry.AddCounter("canopy_frames_total", "Frames.", {"group"});
  GaugeFamily& depth = registry.AddGauge("canopy_depth_bytes", "Depth.");
  HistogramFamily& latency =
      registry.AddHistogram("canopy_latency_seconds", "Latency.", {"event"}, {0.01, 0.1});
  frames.Increment({"g"});
  frames.Increment({"g"}, 2);
  frames.Increment({"g"}, -5);  // ignored: counters only go up
  depth.Set({}, 10);
  depth.Add({}, -4);
  latency.Observe({"join"}, 0.01);  // upper-inclusive bucket
  latency.Observe({"join"}, 0.05);
  latency.Observe({"join"}, 7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE canopy_frames_total counter\n"
                              "canopy_frames_total{group=\"g\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("canopy_depth_bytes 6\n"));
  EXPECT_THAT(text, HasSubstr("canopy_latency_seconds_bucket{event=\"join\",le=\"0.01\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("canopy_latency_seconds_bucket{event=\"join\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("canopy_latency_seconds_bucket{event=\"join\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("canopy_latency_seconds_count{event=\"join\"} 3\n"));
  depth.Remove({});
  EXPECT_THAT(registry.Render(), Not(HasSubstr("canopy_depth_bytes 6")));
}

TEST(MetricsRegistryTest, CollectorsRunAtScrapeTime) {
  MetricsRegistry registry;
  int value = 1;
  registry.AddCollector([&value](std::vector<Family>& out) {
    out.push_back(Family{"canopy_read_at_scrape",
                         "Read.",
                         MetricType::kGauge,
                         {Sample{"", {}, static_cast<double>(value)}}});
  });
  EXPECT_THAT(registry.Render(), HasSubstr("canopy_read_at_scrape 1\n"));
  value = 2;
  EXPECT_THAT(registry.Render(), HasSubstr("canopy_read_at_scrape 2\n"));
}

TEST(MetricsRegistryTest, CollectorCannotShadowARegisteredFamily) {
  MetricsRegistry registry;
  registry.AddGauge("canopy_g", "Registered.").Set({}, 1);
  registry.AddCollector([](std::vector<Family>& out) {
    out.push_back(Family{"canopy_g", "Shadow.", MetricType::kGauge, {Sample{"", {}, 2}}});
  });
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("canopy_g 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("Shadow")));
}

TEST(MetricsRegistryTest, WrongLabelArityIsIgnoredInRelease) {
#ifdef NDEBUG
  MetricsRegistry registry;
  CounterFamily& c = registry.AddCounter("canopy_c_total", "C.", {"group"});
  c.Increment({});
  c.Increment({"a", "b"});
  EXPECT_THAT(registry.Render(), Not(HasSubstr("canopy_c_total{")));
#else
  GTEST_SKIP() << "asserts in debug builds";
#endif
}

TEST(MetricsRegistryDeathTest, BadRegistrationsFailFast) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.AddCounter("canopy_no_suffix", "x"), "_total");
  EXPECT_DEATH(registry.AddGauge("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(registry.AddGauge("canopy_g", "x", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(registry.AddHistogram("canopy_h", "x", {}, {1, 1}), "ascending");
  EXPECT_DEATH(registry.AddHistogram("canopy_h", "x", {"le"}, {1}), "reserved");
  registry.AddGauge("canopy_once", "x");
  EXPECT_DEATH(registry.AddGauge("canopy_once", "x"), "twice");
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& c = registry.AddCounter("canopy_c_total", "C.", {"t"});
  HistogramFamily& h = registry.AddHistogram("canopy_h_seconds", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Increment({"x"});
        h.Observe({}, 0.5);
        if (i % 1000 == 0) registry.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("canopy_c_total{t=\"x\"} 40000\n"));
  EXPECT_THAT(text, HasSubstr("canopy_h_seconds_count 40000\n"));
}

TEST(MetricsRegistryTest, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

}  // namespace
}  // namespace canopy::ops
