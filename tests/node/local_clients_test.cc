#include "node/local_clients.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::node {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<SubscriberQueue> Sub(const std::string& group, v1::FilterMode mode,
                                     std::vector<std::string> sources) {
  v1::SourceFilter f;
  f.set_mode(mode);
  for (auto& s : sources) f.add_sources(s);
  return std::make_shared<SubscriberQueue>(group, f, 1 << 20, 1 << 10);
}

TEST(LocalClientsTest, ReportsMergedFilterPerGroup) {
  int changes = 0;
  LocalClients clients([&] { ++changes; });
  auto a = Sub("g", v1::FILTER_MODE_EXCLUDE, {"x", "y"});
  auto b = Sub("g", v1::FILTER_MODE_INCLUDE, {"x"});
  auto c = Sub("h", v1::FILTER_MODE_INCLUDE, {"s"});
  clients.AddSubscriber(a);
  clients.AddSubscriber(b);
  clients.AddSubscriber(c);
  EXPECT_EQ(changes, 3);
  v1::MembershipReport r = clients.NextMembershipReport();
  ASSERT_EQ(r.groups_size(), 2);
  EXPECT_EQ(r.groups(0).group(), "g");
  EXPECT_EQ(r.groups(0).filter().mode(), v1::FILTER_MODE_EXCLUDE);
  EXPECT_THAT(r.groups(0).filter().sources(), ElementsAre("y"));
  EXPECT_EQ(r.groups(1).group(), "h");

  clients.RemoveSubscriber(a);
  clients.RemoveSubscriber(c);
  v1::MembershipReport r2 = clients.NextMembershipReport();
  EXPECT_GT(r2.report_seq(), r.report_seq());
  ASSERT_EQ(r2.groups_size(), 1);
  EXPECT_EQ(r2.groups(0).filter().mode(), v1::FILTER_MODE_INCLUDE);
  EXPECT_THAT(r2.groups(0).filter().sources(), ElementsAre("x"));
}

TEST(LocalClientsTest, AckQueuesJoinedOnlyForReportedSubscribers) {
  LocalClients clients([] {});
  auto early = Sub("g", v1::FILTER_MODE_EXCLUDE, {});
  clients.AddSubscriber(early);
  v1::MembershipReport r = clients.NextMembershipReport();
  auto late = Sub("g", v1::FILTER_MODE_EXCLUDE, {});
  clients.AddSubscriber(late);
  clients.Acknowledge(r.report_seq());
  EXPECT_TRUE(early->joined());
  EXPECT_FALSE(late->joined());
  auto item = early->Pop(absl::ZeroDuration());
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->frame, nullptr);  // the joined event
}

TEST(LocalClientsTest, SourcesAreCountedPerPublisher) {
  int changes = 0;
  LocalClients clients([&] { ++changes; });
  clients.AddSource("g", "s");
  clients.AddSource("g", "s");
  EXPECT_EQ(changes, 1);
  clients.RemoveSource("g", "s");
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 1);
  clients.RemoveSource("g", "s");
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 0);
  EXPECT_EQ(changes, 2);
}

TEST(LocalClientsTest, ASourceLingersAfterItsLastPublisherLeft) {
  int changes = 0;
  absl::Time now = absl::FromUnixSeconds(1000);
  LocalClients clients([&] { ++changes; }, absl::Seconds(30), [&] { return now; });
  clients.AddSource("g", "s");
  EXPECT_EQ(changes, 1);
  clients.RemoveSource("g", "s");
  // Still reported: the tail of its stream may still be on its way.
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 1);
  EXPECT_EQ(changes, 1);
  now += absl::Seconds(29);
  clients.ExpireLingeringSources();
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 1);
  // A publisher that comes back continues the flow: no change to report.
  clients.AddSource("g", "s");
  EXPECT_EQ(changes, 1);
  clients.RemoveSource("g", "s");
  now += absl::Seconds(29);
  clients.ExpireLingeringSources();
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 1);  // the linger restarted
  now += absl::Seconds(1);
  clients.ExpireLingeringSources();
  EXPECT_EQ(clients.SourceSnapshot().sources_size(), 0);
  EXPECT_EQ(changes, 2);
  // A removal without a publisher changes nothing.
  clients.RemoveSource("g", "s");
  EXPECT_EQ(changes, 2);
}

TEST(SubscriberQueueTest, BackPressureAndClose) {
  auto q = Sub("g", v1::FILTER_MODE_EXCLUDE, {});
  const std::string big(2 << 20, 'b');
  q->Push(DeliveryItem{wire::Frame::Make(wire::FrameType::kData, 1, 1, 1, big), nullptr});
  EXPECT_TRUE(q->OverHighWatermark());
  bool drained = false;
  q->NotifyWhenDrained([&] { drained = true; });
  EXPECT_FALSE(drained);
  ASSERT_TRUE(q->Pop(absl::ZeroDuration()).has_value());
  EXPECT_TRUE(drained);
  q->Close(absl::ResourceExhaustedError("slow"));
  EXPECT_FALSE(q->Push(DeliveryItem{}));
  EXPECT_FALSE(q->Pop(absl::ZeroDuration()).has_value());
  EXPECT_EQ(q->closed_status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(SubscriberQueueTest, RealtimeDropsTheOldestAndCountsThem) {
  auto q = Sub("g", v1::FILTER_MODE_EXCLUDE, {});  // 1 MiB high watermark
  q->MarkJoined();
  const std::string chunk(300 << 10, 'c');
  for (int i = 1; i <= 10; ++i) {
    q->PushDroppingOldest(
        DeliveryItem{wire::Frame::Make(wire::FrameType::kData, 1, 1, i, chunk), nullptr});
  }
  EXPECT_FALSE(q->OverHighWatermark());
  EXPECT_EQ(q->dropped(), 7u);
  auto joined = q->Pop(absl::ZeroDuration());
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->frame, nullptr);  // the joined event is never dropped
  for (uint64_t want = 8; want <= 10; ++want) {
    auto item = q->Pop(absl::ZeroDuration());
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->frame->header().sequence, want);  // the newest survive, in order
  }
}

}  // namespace
}  // namespace canopy::node
