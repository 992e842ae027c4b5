// EtcdPolicyStore against a real etcd member (Debian's etcd-server on
// loopback, started and removed by the test; skipped where it is not
// installed): what one replica stores another loads and follows; ids are
// given out once; a deposed leader's writes are refused; while etcd is
// away reads go on from the cache and writes fail with UNAVAILABLE naming
// etcd, until it answers again.

#include "controller/etcd_policy_store.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "controller/etcd_client.h"
#include "controller/multicast_mapping.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "gtest/gtest.h"
#include "tests/system/replicas.h"

namespace canopy::controller {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kPrefix[] = "/store-test/";

// Polls `done` until it holds or `kWait` passed; true if it held.
template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
  }
  return done();
}

v1::GroupPolicy Policy(const std::string& group, const std::string& source) {
  v1::GroupPolicy p;
  p.set_group(group);
  p.add_allowed_sources(source);
  p.set_profile(v1::TREE_PROFILE_COST);
  p.set_ttl(3);
  return p;
}

class EtcdPolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canopy::testing::EtcdInstalled()) {
      GTEST_SKIP() << "etcd-server is not installed (scripts/setup installs it)";
    }
    etcd_ = std::make_unique<canopy::testing::EtcdCluster>(1);
    ASSERT_TRUE(etcd_->AwaitHealthy(kWait)) << etcd_->Logs();
  }

  std::unique_ptr<EtcdClient> Client() {
    auto endpoints = ParseEtcdEndpoints(etcd_->endpoints());
    EXPECT_TRUE(endpoints.ok()) << endpoints.status();
    EtcdClientOptions options;
    options.endpoints = *endpoints;
    // Long enough for a write's fsync on a machine busy with other tests;
    // a stopped etcd refuses connections at once, so no test waits it out.
    options.call_timeout = absl::Seconds(5);
    auto client = EtcdClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  // A key standing for the election's leader key; returns its creation
  // revision.
  int64_t MakeLeaderKey(EtcdClient& client, const std::string& key) {
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value("leader");
    EXPECT_TRUE(client.Put(put).ok());
    etcdserverpb::RangeRequest range;
    range.set_key(key);
    auto got = client.Range(range);
    EXPECT_TRUE(got.ok() && got->kvs_size() == 1);
    return got.ok() && got->kvs_size() == 1 ? got->kvs(0).create_revision() : 0;
  }

  std::unique_ptr<canopy::testing::EtcdCluster> etcd_;
};

TEST_F(EtcdPolicyStoreTest, WhatOneReplicaStoresAnotherLoads) {
  auto client_a = Client();
  EtcdPolicyStore a(*client_a, kPrefix);
  ASSERT_TRUE(a.Load({}).ok());
  ASSERT_TRUE(a.SetPolicy(Policy("g", "trainer")).ok());
  auto handle = a.GroupHandle("g");
  ASSERT_TRUE(handle.ok()) << handle.status();
  auto source = a.SourceId("g", "trainer");
  ASSERT_TRUE(source.ok()) << source.status();
  const std::vector<StaticLink> links = {{"n1", "n2", 100}, {"n2", "n3", 250}};
  ASSERT_TRUE(a.SetStaticLinks(links).ok());
  auto mapping = MakeMulticastMapping("239.1.0.0/16", 7900);
  ASSERT_TRUE(mapping.ok());
  ASSERT_TRUE(a.SetMulticastMapping(*mapping).ok());

  auto client_b = Client();
  EtcdPolicyStore b(*client_b, kPrefix);
  ASSERT_TRUE(b.Load({}).ok());
  auto policy = b.GetPolicy("g");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->DebugString(), Policy("g", "trainer").DebugString());
  EXPECT_EQ(b.GroupHandle("g").value_or(0), *handle);
  EXPECT_EQ(b.SourceId("g", "trainer").value_or(0), *source);
  EXPECT_EQ(b.StaticLinks().value_or(std::vector<StaticLink>{}), links);
  auto loaded_mapping = b.GetMulticastMapping();
  ASSERT_TRUE(loaded_mapping.ok() && loaded_mapping->has_value());
  EXPECT_EQ(**loaded_mapping, *mapping);
  EXPECT_EQ(b.AllPolicies().value_or(std::vector<v1::GroupPolicy>{}).size(), 1u);
  // Another prefix is another deployment.
  EtcdPolicyStore other(*client_b, "/another/");
  ASSERT_TRUE(other.Load({}).ok());
  EXPECT_TRUE(other.AllPolicies().value_or(std::vector<v1::GroupPolicy>{{}}).empty());
}

TEST_F(EtcdPolicyStoreTest, IdsAreGivenOutOnceAcrossReplicas) {
  auto client_a = Client();
  auto client_b = Client();
  EtcdPolicyStore a(*client_a, kPrefix);
  EtcdPolicyStore b(*client_b, kPrefix);
  ASSERT_TRUE(a.Load({}).ok());
  ASSERT_TRUE(b.Load({}).ok());
  const uint32_t g1 = a.GroupHandle("g1").value_or(0);
  const uint32_t g2 = b.GroupHandle("g2").value_or(0);
  EXPECT_GE(g1, 1u);
  EXPECT_GE(g2, 1u);
  EXPECT_NE(g1, g2) << "two replicas gave out one handle twice";
  EXPECT_EQ(b.GroupHandle("g1").value_or(0), g1);
  EXPECT_EQ(a.GroupHandle("g2").value_or(0), g2);
  EXPECT_EQ(a.SourceId("g1", "s").value_or(0), b.SourceId("g1", "s").value_or(99));
}

TEST_F(EtcdPolicyStoreTest, FollowsChangesItDidNotWrite) {
  auto client_a = Client();
  auto client_b = Client();
  EtcdPolicyStore a(*client_a, kPrefix);
  EtcdPolicyStore b(*client_b, kPrefix);
  ASSERT_TRUE(a.Load({}).ok());
  std::atomic<int> changes{0};
  const absl::Status loaded = b.Load([&] { ++changes; });
  ASSERT_TRUE(loaded.ok()) << loaded;
  const absl::Status set = a.SetPolicy(Policy("watched", "s1"));
  ASSERT_TRUE(set.ok()) << set;
  EXPECT_TRUE(Eventually([&] {
    auto p = b.GetPolicy("watched");
    return p.ok() && p->allowed_sources_size() == 1 && p->allowed_sources(0) == "s1";
  })) << "the other replica's watch never delivered the write; its health: "
      << b.Health().error;
  EXPECT_GE(changes.load(), 1);
  b.StopWatching();
}

TEST_F(EtcdPolicyStoreTest, DeposedLeadersWritesAreRefused) {
  auto client = Client();
  EtcdPolicyStore store(*client, kPrefix);
  ASSERT_TRUE(store.Load({}).ok());
  const std::string key = std::string(kPrefix) + "leader/test";
  const int64_t revision = MakeLeaderKey(*client, key);
  store.Fence(key, revision);
  ASSERT_TRUE(store.SetPolicy(Policy("g", "first")).ok());
  // Another leadership began: the key this store was elected with is not
  // the one that leads.
  store.Fence(key, revision + 1000);
  absl::Status refused = store.SetPolicy(Policy("g", "second"));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_FALSE(store.SetStaticLinks({{"x", "y", 1}}).ok());

  auto reader_client = Client();
  EtcdPolicyStore reader(*reader_client, kPrefix);
  ASSERT_TRUE(reader.Load({}).ok());
  auto stored = reader.GetPolicy("g");
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->allowed_sources_size(), 1);
  EXPECT_EQ(stored->allowed_sources(0), "first") << "the deposed leader's write reached etcd";
  EXPECT_TRUE(reader.StaticLinks().value_or(std::vector<StaticLink>{{}}).empty());
}

TEST_F(EtcdPolicyStoreTest, WhileEtcdIsAwayReadsGoOnAndWritesNameEtcd) {
  auto client = Client();
  EtcdPolicyStore store(*client, kPrefix);
  ASSERT_TRUE(store.Load({}).ok());
  ASSERT_TRUE(store.SetPolicy(Policy("g", "kept")).ok());
  const uint32_t handle = store.GroupHandle("g").value_or(0);
  ASSERT_GE(handle, 1u);
  EXPECT_TRUE(store.Health().reachable);

  etcd_->Kill(0);
  absl::Status refused = store.SetPolicy(Policy("g", "changed"));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  // Now known to be away: refused at once, naming etcd.
  refused = store.SetPolicy(Policy("g", "changed"));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "etcd")) << refused;
  EXPECT_FALSE(store.Health().reachable);
  EXPECT_FALSE(store.Health().error.empty());
  // What was stored is still served.
  auto policy = store.GetPolicy("g");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->allowed_sources(0), "kept");
  EXPECT_EQ(store.GroupHandle("g").value_or(0), handle);
  EXPECT_FALSE(store.GroupHandle("new-group").ok()) << "a new id needs etcd";

  etcd_->Start(0);
  ASSERT_TRUE(etcd_->AwaitHealthy(kWait)) << etcd_->Logs();
  // The store finds out by itself (no lease renewal tells it here).
  absl::Status accepted;
  EXPECT_TRUE(Eventually([&] {
    accepted = store.SetPolicy(Policy("g", "changed"));
    return accepted.ok();
  })) << accepted;
  EXPECT_TRUE(store.Health().reachable);
}

}  // namespace
}  // namespace canopy::controller
