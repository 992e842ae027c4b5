#include "controller/policy_store.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::ElementsAre;

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("canopy-store-test-" + std::to_string(::getpid()));
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
