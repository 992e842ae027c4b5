#include "controller/static_links.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(StaticLinksTest, ParsesLinksCommentsAndBlankLines) {
  auto links = ParseStaticLinks(
      "# tunnels between islands\n"
      "node-a node-b 1200\n"
      "\n"
      "node-b\tnode-c   300  # slow hop\n");
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(*links, ElementsAre(StaticLink{"node-a", "node-b", 1200},
                                  StaticLink{"node-b", "node-c", 300}));
}

TEST(StaticLinksTest, EmptyFileMeansNoLinks) {
  auto links = ParseStaticLinks("# nothing\n\n");
  ASSERT_TRUE(links.ok());
  EXPECT_TRUE(links->empty());
}

TEST(StaticLinksTest, BadLinesNameTheirLine) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"a b\n", "line 1: want 'NODE_A NODE_B COST_US'"},
      {"a b 1\na b c d\n", "line 2:"},
      {"a a 5\n", "line 1: link from a to itself"},
      {"a b -5\n", "line 1: cost '-5'"},
      {"a b 1e3\n", "line 1: cost '1e3'"},
      {"a b 99999999999\n", "line 1: cost"},
      {"a b 1\n\nb a 2\n", "line 3: link a - b given twice"},
      {"a b/c 1\n", "line 1: node id"},
  };
  for (const Case& c : cases) {
    auto links = ParseStaticLinks(c.text);
    ASSERT_FALSE(links.ok()) << c.text;
    EXPECT_THAT(std::string(links.status().message()), HasSubstr(c.says)) << c.text;
  }
}

}  // namespace
}  // namespace canopy::controller
