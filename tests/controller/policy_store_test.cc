#include "controller/policy_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::ElementsAre;

std::filesystem::path TempDir() {
  return std::filesystem::temp_directory_path() /
         ("canopy-store-test-" + std::to_string(::getpid()));
}

// Removes this process's temporary directory after its last test.
class TempDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(TempDir(), ignored);
  }
};
::testing::Environment* const kTempDirCleanup =
    ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::string TempPath(const std::string& name) {
  auto dir = TempDir();
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

TEST(PolicyStoreTest, DefaultPolicyAllowsAnyone) {
  auto store = PolicyStore::Open(TempPath("default.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto p = (*store)->GetPolicy("g");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->group(), "g");
  EXPECT_TRUE(p->allowed_sources().empty());
}

TEST(PolicyStoreTest, PoliciesAndIdsSurviveReopen) {
  const std::string path = TempPath("durable.db");
  uint32_t handle_g, handle_h, source_id;
  {
    auto store = PolicyStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    v1::GroupPolicy p;
    p.set_group("g");
    p.add_allowed_sources("trainer");
    p.add_allowed_sources("backup");
    ASSERT_TRUE((*store)->SetPolicy(p).ok());
    handle_g = *(*store)->GroupHandle("g");
    handle_h = *(*store)->GroupHandle("h");
    source_id = *(*store)->SourceId("g", "trainer");
    EXPECT_NE(handle_g, handle_h);
    EXPECT_EQ(*(*store)->GroupHandle("g"), handle_g);  // stable
  }
  auto store = PolicyStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto p = (*store)->GetPolicy("g");
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(p->allowed_sources(), ElementsAre("trainer", "backup"));
  EXPECT_EQ(*(*store)->GroupHandle("g"), handle_g);
  EXPECT_EQ(*(*store)->GroupHandle("h"), handle_h);
  EXPECT_EQ(*(*store)->SourceId("g", "trainer"), source_id);
  EXPECT_NE(*(*store)->SourceId("g", "other"), source_id);
  auto all = (*store)->AllPolicies();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
}

TEST(PolicyStoreTest, ProfileTtlSlowReceiverAndStaticLinksPersist) {
  const std::string path = TempPath("profile.db");
  {
    auto store = PolicyStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    v1::GroupPolicy p;
    p.set_group("g");
    p.set_profile(v1::TREE_PROFILE_COST);
    p.set_ttl(16);
    p.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
    ASSERT_TRUE((*store)->SetPolicy(p).ok());
    ASSERT_TRUE((*store)->SetStaticLinks({{"a", "b", 10}, {"b", "c", 20}}).ok());
  }
  auto store = PolicyStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto p = (*store)->GetPolicy("g");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ(p->ttl(), 16u);
  EXPECT_EQ(p->slow_receiver(), v1::SLOW_RECEIVER_REALTIME);
  auto links = (*store)->StaticLinks();
  ASSERT_TRUE(links.ok());
  EXPECT_THAT(*links, ElementsAre(StaticLink{"a", "b", 10}, StaticLink{"b", "c", 20}));
  ASSERT_TRUE((*store)->SetStaticLinks({}).ok());
  EXPECT_TRUE((*store)->StaticLinks()->empty());
}

TEST(PolicyStoreTest, OpensAStoreFromTheFirstSchemaVersion) {
  const std::string path = TempPath("v1.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE group_policy (group_name TEXT PRIMARY KEY, "
                           "allowed_sources TEXT NOT NULL DEFAULT '');"
                           "INSERT INTO group_policy VALUES ('old', 'trainer');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = PolicyStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto p = (*store)->GetPolicy("old");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->allowed_sources(), ElementsAre("trainer"));
  EXPECT_EQ(p->profile(), v1::TREE_PROFILE_UNSPECIFIED);
}

TEST(PolicyStoreTest, CorruptFileIsAClearError) {
  const std::string path = TempPath("corrupt.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(4096, 'x');
  }
  auto store = PolicyStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr(path));
}

TEST(PolicyStoreTest, UnwritableLocationIsAClearError) {
  auto store = PolicyStore::Open("/nonexistent-dir/sub/store.db");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::HasSubstr("/nonexistent-dir/sub/store.db"));
}

}  // namespace
}  // namespace canopy::controller
