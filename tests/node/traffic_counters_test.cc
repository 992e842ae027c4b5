#include "node/traffic_counters.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace canopy::node {
namespace {

TEST(TrafficCountersTest, CountsPerGroup) {
  TrafficCounters counters;
  counters.CountIn("g", 100);
  counters.CountIn("g", 50);
  counters.CountOut("g", 100, 3);
  counters.CountDrop("g", DropReason::kDuplicate);
  counters.CountDrop("h", DropReason::kRealtimeOverflow, 4);
  counters.SetReplayBytes("g", 4096);
  const TrafficCounters::Snapshot s = counters.Take();
  ASSERT_EQ(s.groups.size(), 2u);
  const TrafficCounters::GroupTotals& g = s.groups.at("g");
  EXPECT_EQ(g.frames_in, 2u);
  EXPECT_EQ(g.bytes_in, 150u);
  EXPECT_EQ(g.frames_out, 3u);
  EXPECT_EQ(g.bytes_out, 300u);
  EXPECT_EQ(g.drops[static_cast<size_t>(DropReason::kDuplicate)], 1u);
  EXPECT_EQ(g.replay_bytes, 4096u);
  EXPECT_EQ(s.groups.at("h").drops[static_cast<size_t>(DropReason::kRealtimeOverflow)], 4u);
}

TEST(TrafficCountersTest, QueueGauges) {
  TrafficCounters counters;
  counters.SetLinkQueueBytes("node-b", 10);
  counters.SetLinkQueueBytes("node-c", 20);
  counters.SetLinkQueueBytes("node-b", 30);
  counters.SetSubscriberQueueBytes(7);
  TrafficCounters::Snapshot s = counters.Take();
  EXPECT_EQ(s.link_queue_bytes, (std::map<std::string, uint64_t>{{"node-b", 30}, {"node-c", 20}}));
  EXPECT_EQ(s.subscriber_queue_bytes, 7u);
  counters.ForgetLink("node-b");
  counters.ForgetLink("never-seen");
  s = counters.Take();
  EXPECT_EQ(s.link_queue_bytes, (std::map<std::string, uint64_t>{{"node-c", 20}}));
}

TEST(TrafficCountersTest, GroupsBeyondTheLimitShareOneEntry) {
  TrafficCounters counters(/*max_groups=*/2);
  counters.CountIn("a", 1);
  counters.CountIn("b", 1);
  counters.CountIn("c", 1);
  counters.CountIn("d", 1);
  counters.CountIn("a", 1);
  const TrafficCounters::Snapshot s = counters.Take();
  ASSERT_EQ(s.groups.size(), 3u);
  EXPECT_EQ(s.groups.at("a").frames_in, 2u);
  EXPECT_EQ(s.groups.at("b").frames_in, 1u);
  EXPECT_EQ(s.groups.at(std::string(TrafficCounters::kOtherGroup)).frames_in, 2u);
}

TEST(TrafficCountersTest, DropReasonNames) {
  EXPECT_EQ(DropReasonName(DropReason::kDuplicate), "duplicate");
  EXPECT_EQ(DropReasonName(DropReason::kRealtimeOverflow), "realtime_overflow");
  EXPECT_EQ(DropReasonName(DropReason::kDisallowed), "disallowed");
  EXPECT_EQ(DropReasonName(DropReason::kUnknownFlow), "unknown_flow");
  EXPECT_EQ(DropReasonName(DropReason::kDetached), "detached");
  EXPECT_EQ(DropReasonName(DropReason::kNotFromParent), "not_from_parent");
}

TEST(TrafficCountersTest, ConcurrentCountingLosesNothing) {
  TrafficCounters counters;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counters, t] {
      for (int i = 0; i < 20000; ++i) {
        counters.CountIn(i % 2 == 0 ? "even" : "odd", 10);
        counters.CountOut("even", 1, 2);
        if (i % 5000 == 0) counters.Take();
      }
      counters.SetLinkQueueBytes("peer-" + std::to_string(t), 1);
    });
  }
  for (auto& t : threads) t.join();
  const TrafficCounters::Snapshot s = counters.Take();
  EXPECT_EQ(s.groups.at("even").frames_in, 40000u);
  EXPECT_EQ(s.groups.at("odd").bytes_in, 400000u);
  EXPECT_EQ(s.groups.at("even").frames_out, 160000u);
  EXPECT_EQ(s.link_queue_bytes.size(), 4u);
}

}  // namespace
}  // namespace canopy::node
