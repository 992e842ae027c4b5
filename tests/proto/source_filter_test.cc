#include "proto/source_filter.h"

#include <string>
#include <vector>

#include "base/stripe_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/validation.h"

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

TEST(StripeSourceTest, StripeIdsRoundTripAndMalformedSuffixesArePlainIds) {
  EXPECT_EQ(StripeSourceId("trainer", 2, 4), "trainer#2/4");
  std::optional<Stripe> s = ParseStripe("trainer#2/4");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->base, "trainer");
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 4);
  EXPECT_EQ(BaseSourceId("trainer#2/4"), "trainer");
  EXPECT_EQ(BaseSourceId("trainer"), "trainer");
  for (const char* bad : {"trainer", "#0/2", "t#4/4", "t#0/1", "t#00/4", "t#1/04", "t#-1/4",
                          "t#1/65", "t#1/", "t#/4", "t#1/4x", "t#1"}) {
    EXPECT_FALSE(ParseStripe(bad)) << bad;
  }
  EXPECT_TRUE(ParseStripe("t#63/64"));
  // Validation takes well-formed stripes of valid ids only.
  EXPECT_TRUE(ValidateSourceId("trainer#0/2").ok());
  EXPECT_FALSE(ValidateSourceId("trainer#2/2").ok());
  EXPECT_FALSE(ValidateSourceId("tra iner#0/2").ok());
  EXPECT_FALSE(ValidateSourceId(std::string(65, 'a') + "#0/2").ok());
}

TEST(StripeSourceTest, FiltersNamingTheBaseCoverEveryStripe) {
  EXPECT_TRUE(Admits(Include({"a"}), "a#1/4"));
  EXPECT_FALSE(Admits(Include({"b"}), "a#1/4"));
  EXPECT_FALSE(Admits(Exclude({"a"}), "a#1/4"));
  EXPECT_TRUE(Admits(Include({"a#1/4"}), "a#1/4"));
  EXPECT_FALSE(Admits(Include({"a#1/4"}), "a#2/4"));
  // A plain id that merely looks alike is not a stripe of it.
  EXPECT_FALSE(Admits(Include({"a"}), "ab#1/4"));
}

}  // namespace
}  // namespace canopy
