#include "proto/source_filter.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

using ::testing::ElementsAreArray;

v1::SourceFilter Make(v1::FilterMode mode, std::vector<std::string> sources) {
  v1::SourceFilter f;
  f.set_mode(mode);
  for (auto& s : sources) f.add_sources(s);
  return f;
}

v1::SourceFilter Include(std::vector<std::string> s) {
  return Make(v1::FILTER_MODE_INCLUDE, std::move(s));
}
v1::SourceFilter Exclude(std::vector<std::string> s) {
  return Make(v1::FILTER_MODE_EXCLUDE, std::move(s));
}

TEST(AdmitsTest, IncludeAdmitsOnlyListed) {
  EXPECT_TRUE(Admits(Include({"a", "b"}), "a"));
  EXPECT_FALSE(Admits(Include({"a", "b"}), "c"));
  EXPECT_FALSE(Admits(Include({}), "a"));
}

TEST(AdmitsTest, ExcludeAdmitsAllButListed) {
  EXPECT_FALSE(Admits(Exclude({"a"}), "a"));
  EXPECT_TRUE(Admits(Exclude({"a"}), "b"));
  EXPECT_TRUE(Admits(Exclude({}), "anything"));
}

TEST(AdmitsTest, UnspecifiedModeActsAsExclude) {
  EXPECT_TRUE(Admits(Make(v1::FILTER_MODE_UNSPECIFIED, {}), "a"));
  EXPECT_FALSE(Admits(Make(v1::FILTER_MODE_UNSPECIFIED, {"a"}), "a"));
}

struct MergeCase {
  const char* name;
  std::vector<v1::SourceFilter> in;
  v1::FilterMode mode;
  std::vector<std::string> sources;
};

// RFC 3376 §3.2: the interface state of several socket filters.
TEST(MergeFiltersTest, Rfc3376Table) {
  const std::vector<MergeCase> cases = {
      {"no subscribers is INCLUDE {}", {}, v1::FILTER_MODE_INCLUDE, {}},
      {"includes union",
       {Include({"a", "b"}), Include({"b", "c"})},
       v1::FILTER_MODE_INCLUDE,
       {"a", "b", "c"}},
      {"excludes intersect",
       {Exclude({"a", "b"}), Exclude({"b", "c"})},
       v1::FILTER_MODE_EXCLUDE,
       {"b"}},
      {"exclude minus include",
       {Exclude({"a", "b"}), Include({"a"})},
       v1::FILTER_MODE_EXCLUDE,
       {"b"}},
      {"any exclude wins", {Include({"x"}), Exclude({})}, v1::FILTER_MODE_EXCLUDE, {}},
      {"three-way",
       {Exclude({"a", "b", "c"}), Exclude({"a", "c"}), Include({"c"})},
       v1::FILTER_MODE_EXCLUDE,
       {"a"}},
      {"duplicates collapse",
       {Include({"a", "a"}), Include({"a"})},
       v1::FILTER_MODE_INCLUDE,
       {"a"}},
  };
  for (const MergeCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::SourceFilter merged = MergeFilters(c.in);
    EXPECT_EQ(merged.mode(), c.mode);
    EXPECT_THAT(merged.sources(), ElementsAreArray(c.sources));
  }
}

TEST(MergeFiltersTest, MergedFilterAdmitsWhatAnyMemberAdmits) {
  const std::vector<v1::SourceFilter> in = {Include({"a"}), Exclude({"a", "b"}), Include({"c"})};
  v1::SourceFilter merged = MergeFilters(in);
  for (const std::string s : {"a", "b", "c", "d"}) {
    bool any = false;
    for (const auto& f : in) any = any || Admits(f, s);
    EXPECT_EQ(Admits(merged, s), any) << s;
  }
}

TEST(AdmitsNothingTest, OnlyEmptyInclude) {
  EXPECT_TRUE(AdmitsNothing(Include({})));
  EXPECT_FALSE(AdmitsNothing(Include({"a"})));
  EXPECT_FALSE(AdmitsNothing(Exclude({})));
}

}  // namespace
}  // namespace canopy
