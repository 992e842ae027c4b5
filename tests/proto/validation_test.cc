#include "proto/validation.h"

#include <string>

#include "base/address.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

TEST(ValidationTest, GroupNames) {
  EXPECT_TRUE(ValidateGroupName("models/llama-7b:v2").ok());
  EXPECT_EQ(ValidateGroupName("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGroupName(std::string(129, 'g')).code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad = ValidateGroupName("bad group");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("bad group"), absl::string_view::npos) << bad;
}

TEST(ValidationTest, SourceAndNodeIds) {
  EXPECT_TRUE(ValidateSourceId("trainer-0:rank.3").ok());
  EXPECT_FALSE(ValidateSourceId("a/b").ok());
  EXPECT_TRUE(ValidateNodeId("node-a.zone1").ok());
  EXPECT_FALSE(ValidateNodeId("node:a").ok());
  EXPECT_FALSE(ValidateNodeId(std::string("a\0b", 3)).ok());
}

TEST(ValidationTest, Filters) {
  v1::SourceFilter f;
  f.set_mode(v1::FILTER_MODE_INCLUDE);
  f.add_sources("a");
  EXPECT_TRUE(ValidateFilter(f).ok());
  f.set_mode(static_cast<v1::FilterMode>(7));
  EXPECT_FALSE(ValidateFilter(f).ok());
  f.set_mode(v1::FILTER_MODE_EXCLUDE);
  f.add_sources("no spaces");
  EXPECT_FALSE(ValidateFilter(f).ok());
  v1::SourceFilter huge;
  for (int i = 0; i <= kMaxFilterSources; ++i) huge.add_sources("s" + std::to_string(i));
  EXPECT_EQ(ValidateFilter(huge).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AddressTest, ParsesHostPort) {
  auto a = ParseHostPort("127.0.0.1:7600");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7600);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:0");
}

TEST(AddressTest, RejectsMalformed) {
  for (const char* bad :
       {"", "localhost", ":80", "host:", "host:99999", "host:x1", "::1:80", "host:-1"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace canopy
