#include "controller/controller_metrics.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::HasSubstr;

// The value of the sample line starting with `series` + " ", or -1.
double Value(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class NullChannel final : public NodeChannel {
 public:
  bool Send(const v1::NodeInstruction&) override { return true; }
  void Close() override {}
};

class ControllerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("canopy-controller-metrics-" + std::to_string(getpid()) + ".db"))
                .string();
    std::remove(path_.c_str());
    auto store = PolicyStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ControllerOptions options;
    options.on_planned = metrics_.PlanObserver();
    auto core = ControllerCore::Create(options, *store_);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
    metrics_.CollectFrom(*core_);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::remove(path_.c_str());
  }

  uint64_t Attach(const std::string& id, const std::string& data) {
    v1::NodeHello hello;
    hello.set_node_id(id);
    hello.set_data_address(data);
    hello.set_client_address("127.0.0.1:1");
    auto session = core_->Attach(hello, &channel_, now_);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.value_or(0);
  }

  std::string path_;
  NullChannel channel_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  ops::MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ControllerCore> core_;
};

TEST_F(ControllerMetricsTest, ExportsCoreStateAndPlanLatency) {
  std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("canopy_controller_attached_nodes 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE canopy_controller_plan_duration_seconds histogram\n"));

  const uint64_t a = Attach("node-a", "127.0.0.1:1001");
  Attach("node-b", "127.0.0.1:1002");
  v1::MembershipReport report;
  v1::GroupMembership* m = report.add_groups();
  m->set_group("g");
  m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
  core_->OnMembership(a, report, now_);
  v1::SourceReport sources;
  v1::SourceKey* k = sources.add_sources();
  k->set_group("g");
  k->set_source("s");
  core_->OnSources(a, sources, now_);

  text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("canopy_controller_attached_nodes 2\n"));
  EXPECT_THAT(text, HasSubstr("canopy_controller_groups 1\n"));
  EXPECT_THAT(text, HasSubstr("canopy_controller_group_member_nodes{group=\"g\"} 1\n"));
  EXPECT_GE(Value(text, "canopy_controller_tree_version{group=\"g\"}"), 1);
  EXPECT_GE(Value(text, "canopy_controller_tables_pushed_total"), 1);
  EXPECT_THAT(text,
              HasSubstr("canopy_controller_plan_duration_seconds_count{event=\"attach\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("canopy_controller_plan_duration_seconds_count{event=\"membership\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("canopy_controller_plan_duration_seconds_count{event=\"sources\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("canopy_controller_reoptimizations_total{result=\"applied\"} 0\n"));

  // A node that goes silent is declared dead: counted, and no longer attached.
  core_->ExpireSilentNodes(now_ + absl::Seconds(10));
  text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("canopy_controller_attached_nodes 0\n"));
  EXPECT_THAT(text, HasSubstr("canopy_controller_nodes_expired_total 2\n"));
  EXPECT_THAT(text,
              HasSubstr("canopy_controller_plan_duration_seconds_count{event=\"expire\"} 1\n"));
}

}  // namespace
}  // namespace canopy::controller
