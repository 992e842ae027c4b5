#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/exposition.h"

namespace canopy::ops {
namespace {

using ::testing::HasSubstr;

TEST(ExpositionTest, RendersHelpTypeAndSamples) {
  Family counter{"canopy_x_total",
                 "Things.",
                 MetricType::kCounter,
                 {Sample{"", {{"group", "g"}}, 3}, Sample{"", {{"group", "h"}}, 4}}};
  Family gauge{"canopy_depth_bytes", "Depth.", MetricType::kGauge, {Sample{"", {}, 1.5}}};
  EXPECT_EQ(RenderExposition({counter, gauge}),
            "# HELP canopy_x_total Things.\n"
            "# TYPE canopy_x_total counter\n"
            "canopy_x_total{group=\"g\"} 3\n"
            "canopy_x_total{group=\"h\"} 4\n"
            "# HELP canopy_depth_bytes Depth.\n"
            "# TYPE canopy_depth_bytes gauge\n"
            "canopy_depth_bytes 1.5\n");
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
  Family f{"canopy_g",
           "line one\nline two",
           MetricType::kGauge,
           {Sample{"", {{"group", "we\"ird\\name\n"}}, 1}}};
  const std::string text = RenderExposition({f});
  EXPECT_THAT(text, HasSubstr("# HELP canopy_g line one\\nline two\n"));
  EXPECT_THAT(text, HasSubstr("canopy_g{group=\"we\\\"ird\\\\name\\n\"} 1\n"));
}

TEST(ExpositionTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(18446744073709551615.0), "1.8446744073709552e+19");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(5e-05), "5e-05");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(ExpositionTest, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("canopy_node_sent_bytes_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("group"));
  EXPECT_FALSE(IsValidLabelName("__name"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(ExpositionTest, LeavesOutMalformedAndDuplicateFamilies) {
  Family good{"canopy_ok", "ok", MetricType::kGauge, {Sample{"", {}, 1}}};
  Family bad_name{"canopy-bad", "bad", MetricType::kGauge, {Sample{"", {}, 1}}};
  Family counter_without_total{"canopy_count", "bad", MetricType::kCounter, {}};
  Family bad_label{"canopy_l", "bad", MetricType::kGauge, {Sample{"", {{"0x", "v"}}, 1}}};
  Family twice_label{
      "canopy_t", "bad", MetricType::kGauge, {Sample{"", {{"a", "1"}, {"a", "2"}}, 1}}};
  Family gauge_suffix{"canopy_s", "bad", MetricType::kGauge, {Sample{"_sum", {}, 1}}};
  int skipped = 0;
  const std::string text = RenderExposition(
      {good, bad_name, counter_without_total, bad_label, twice_label, gauge_suffix, good},
      &skipped);
  EXPECT_EQ(skipped, 6);
  EXPECT_EQ(text, "# HELP canopy_ok ok\n# TYPE canopy_ok gauge\ncanopy_ok 1\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulative) {
  Family h{"canopy_latency_seconds", "Latency.", MetricType::kHistogram, {}};
  AppendHistogram(h, {{"event", "join"}}, HistogramCounts{{0.1, 1}, {2, 3, 1}, 4.5});
  EXPECT_TRUE(ValidateFamily(h).ok());
  EXPECT_EQ(RenderExposition({h}),
            "# HELP canopy_latency_seconds Latency.\n"
            "# TYPE canopy_latency_seconds histogram\n"
            "canopy_latency_seconds_bucket{event=\"join\",le=\"0.1\"} 2\n"
            "canopy_latency_seconds_bucket{event=\"join\",le=\"1\"} 5\n"
            "canopy_latency_seconds_bucket{event=\"join\",le=\"+Inf\"} 6\n"
            "canopy_latency_seconds_sum{event=\"join\"} 4.5\n"
            "canopy_latency_seconds_count{event=\"join\"} 6\n");
}

TEST(ExpositionTest, HistogramSamplesNeedTheirLabels) {
  Family no_le{"canopy_h", "h", MetricType::kHistogram, {Sample{"_bucket", {}, 1}}};
  EXPECT_FALSE(ValidateFamily(no_le).ok());
  Family le_on_sum{"canopy_h", "h", MetricType::kHistogram, {Sample{"_sum", {{"le", "1"}}, 1}}};
  EXPECT_FALSE(ValidateFamily(le_on_sum).ok());
  Family plain{"canopy_h", "h", MetricType::kHistogram, {Sample{"", {}, 1}}};
  EXPECT_FALSE(ValidateFamily(plain).ok());
}

}  // namespace
}  // namespace canopy::ops
