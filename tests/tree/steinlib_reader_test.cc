#include "tree/steinlib_reader.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::tree {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(33D32945 STP File, STP Format Version 1.0

SECTION Comment
Name    "tiny"
END

SECTION Graph
Nodes 4
Edges 4
E 1 2 3
E 2 3 4
E 3 4 5
E 1 2 2
END

SECTION Terminals
Terminals 2
T 1
T 4
END

EOF
)";

TEST(SteinLibReaderTest, ParsesGoodFile) {
  absl::StatusOr<SteinerInstance> inst = ParseSteinLib(kGood);
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->name, "tiny");
  EXPECT_EQ(inst->graph.VertexCount(), 4);
  EXPECT_EQ(inst->graph.Vertex(0).name, "1");
  EXPECT_THAT(inst->terminals, ::testing::ElementsAre(0, 3));
  // Parallel edge {1, 2} keeps the cheaper cost.
  EXPECT_EQ(inst->graph.Cost(0, 1), 2);
  EXPECT_EQ(inst->graph.Edges().size(), 3u);
}

TEST(SteinLibReaderTest, ParsesFromStreamAndWithoutHeader) {
  std::string text(kGood);
  text = text.substr(text.find('\n') + 1);  // PACE files have no header line
  std::istringstream in(text);
  absl::StatusOr<SteinerInstance> inst = ParseSteinLib(in);
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->terminals.size(), 2u);
}

TEST(SteinLibReaderTest, KeywordsAreCaseInsensitiveAndRootIsRead) {
  absl::StatusOr<SteinerInstance> inst = ParseSteinLib(
      "section graph\nnodes 2\nedges 1\ne 1 2 7\nend\nSECTION TERMINALS\nterminals 1\n"
      "t 2\nRoot 1\nEND\nEOF\n");
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->root, 0);
}

struct BadCase {
  const char* text;
  const char* expected;  // substring of the error, including the line number
};

class SteinLibBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SteinLibBadInputTest, ReportsLineAndReason) {
  absl::StatusOr<SteinerInstance> inst = ParseSteinLib(GetParam().text);
  ASSERT_FALSE(inst.ok());
  EXPECT_EQ(inst.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inst.status().message(), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SteinLibBadInputTest,
    ::testing::Values(
        BadCase{"", "missing SECTION Graph"},
        BadCase{"hello world\n", "line 1: expected SECTION or EOF"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 4 2\nEND\n", "line 3: node 4 outside 1..3"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2\nEND\n", "line 3: \"E\" takes 3 value(s)"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2 x\nEND\n", "line 3: expected an integer"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 1 2\nEND\n", "line 3: self loop"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2 -5\nEND\n", "line 3: negative weight"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2 99999999999999999999\nEND\n",
                "line 3: expected an integer"},
        BadCase{"SECTION Graph\nE 1 2 3\nEND\n", "line 2: node id before the Nodes line"},
        BadCase{"SECTION Graph\nNodes 99999999999\nEND\n", "line 2: Nodes 99999999999 out of range"},
        // A header may not make the reader allocate gigabytes.
        BadCase{"SECTION Graph\nNodes 50000000\nEND\n", "line 2: Nodes 50000000 out of range"},
        BadCase{"SECTION Graph\nNodes 3\nEdges 2\nE 1 2 3\nEND\n",
                "line 5: Edges says 2 but 1 edge lines"},
        BadCase{"SECTION Graph\nNodes 3\nFoo 1\nEND\n", "line 3: unknown keyword \"Foo\""},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2 3\n", "unexpected end of file inside a SECTION"},
        BadCase{"SECTION Graph\nNodes 3\nE 1 2 3\nEND\nEOF\n", "missing SECTION Terminals"},
        BadCase{"SECTION Graph\nNodes 3\nEND\nSECTION Terminals\nTerminals 2\nT 1\nT 1\nEND\n",
                "line 7: duplicate terminal 1"},
        BadCase{"SECTION Graph\nNodes 3\nEND\nSECTION Terminals\nTerminals 3\nT 1\nEND\n",
                "line 7: Terminals says 3 but 1"},
        BadCase{"SECTION Graph\nNodes 3\nEND\nSECTION Terminals\nT 0\nEND\n",
                "line 5: node 0 outside 1..3"},
        BadCase{"SECTION Graph\nNodes 3\nEND\nSECTION Terminals\nEND\n", "line 5: no terminals"},
        BadCase{"SECTION Terminals\nT 1\nEND\n", "line 1: SECTION Terminals before SECTION Graph"},
        BadCase{"SECTION Graph\nNodes 3\nEND\nSECTION Terminals\nT 1\nEND\nEOF\nE 1 2 3\n",
                "line 8: text after EOF"}));

TEST(SteinLibReaderTest, RandomGarbageNeverCrashes) {
  std::string base(kGood);
  uint32_t x = 12345;
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string text = base;
    for (int k = 0; k < 3; ++k) {
      x = x * 1103515245u + 12345u;
      size_t pos = (x >> 8) % text.size();
      x = x * 1103515245u + 12345u;
      text[pos] = static_cast<char>((x >> 16) & 0xff);
    }
    absl::StatusOr<SteinerInstance> inst = ParseSteinLib(text);
    if (!inst.ok()) {
      ++rejected;
      EXPECT_THAT(inst.status().message(), HasSubstr("line "));
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(SteinLibReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadSteinLibFile("/nonexistent/x.stp").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace canopy::tree
