#include "controller/policy_file.h"

#include <fstream>
#include <sstream>
#include <string>

#include "controller/static_links.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::HasSubstr;

TEST(PolicyFileTest, ParsesProtoAndCamelCaseNames) {
  auto policies = ParsePolicyFile(R"({"policies": [
      {"group": "training/ckpt", "allowed_sources": ["trainer"],
       "profile": "TREE_PROFILE_COST", "ttl": 4, "slow_receiver": "SLOW_RECEIVER_REALTIME"},
      {"group": "video", "allowedSources": [], "slowReceiver": "SLOW_RECEIVER_RELIABLE"}]})");
  ASSERT_TRUE(policies.ok()) << policies.status();
  ASSERT_EQ(policies->size(), 2u);
  EXPECT_EQ((*policies)[0].group(), "training/ckpt");
  EXPECT_EQ((*policies)[0].allowed_sources(0), "trainer");
  EXPECT_EQ((*policies)[0].profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ((*policies)[0].ttl(), 4u);
  EXPECT_EQ((*policies)[0].slow_receiver(), v1::SLOW_RECEIVER_REALTIME);
  EXPECT_EQ((*policies)[1].group(), "video");
  EXPECT_EQ((*policies)[1].slow_receiver(), v1::SLOW_RECEIVER_RELIABLE);
}

TEST(PolicyFileTest, EmptyListIsFine) {
  auto policies = ParsePolicyFile(R"({"policies": []})");
  ASSERT_TRUE(policies.ok()) << policies.status();
  EXPECT_TRUE(policies->empty());
  EXPECT_TRUE(ParsePolicyFile("{}").ok());
}

TEST(PolicyFileTest, RejectsBadInput) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{"not json", "not a policies JSON object"},
           Case{R"({"policies": [{"group": "g", "colour": "red"}]})", "not a policies JSON"},
           Case{R"({"policies": [{"group": "g", "profile": "TREE_PROFILE_FAST"}]})",
                "not a policies JSON"},
           Case{R"({"policies": [{"group": ""}]})", "policies[0]"},
           Case{R"({"policies": [{"group": "g", "ttl": 256}]})", "above 255"},
           Case{R"({"policies": [{"group": "g", "allowed_sources": ["bad source"]}]})",
                "policies[0]"},
           Case{R"({"policies": [{"group": "g"}, {"group": "g"}]})", "given twice"},
       }) {
    auto policies = ParsePolicyFile(c.json);
    ASSERT_FALSE(policies.ok()) << c.json;
    EXPECT_EQ(policies.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(policies.status().message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(PolicyFileTest, RejectsHugeFiles) {
  EXPECT_FALSE(ParsePolicyFile(std::string(kMaxPolicyFileBytes + 1, ' ')).ok());
}

// The ConfigMap k8s/ ships is what the controller accepts (tests run in the
// repository root).
TEST(PolicyFileTest, ShippedKubernetesConfigParses) {
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(in.good() || in.eof()) << path;
    return text.str();
  };
  const std::string policies_json = read("k8s/base/config/policies.json");
  ASSERT_FALSE(policies_json.empty());
  auto policies = ParsePolicyFile(policies_json);
  ASSERT_TRUE(policies.ok()) << policies.status();
  EXPECT_FALSE(policies->empty());
  auto links = ParseStaticLinks(read("k8s/base/config/links.txt"));
  EXPECT_TRUE(links.ok()) << links.status();
}

}  // namespace
}  // namespace canopy::controller
