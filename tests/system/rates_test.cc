// Which link is hot: nodes report their traffic, the controller turns it
// into per-edge rates and lags, and `canopyctl tree --rates` / `top` show
// them. A live stream gives every edge a non-zero rate; a child that stops
// (SIGSTOP) lags on its edge.

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/overlay.h"

namespace canopy::testing {
namespace {

constexpr char kGroup[] = "rates";

// Runs canopyctl with `args` against the overlay's controller; its stdout,
// or "" (and a failure) if it did not exit 0 in time.
std::string Canopyctl(Overlay& overlay, std::vector<std::string> args) {
  std::vector<std::string> argv = {BinaryPath("canopyctl"), "--controller",
                                   overlay.controller_address()};
  argv.insert(argv.end(), args.begin(), args.end());
  Process ctl(argv);
  const std::optional<int> code = ctl.Wait(kWait);
  EXPECT_EQ(code, 0) << absl::StrJoin(argv, " ") << "\n" << ctl.Stderr();
  return absl::StrJoin(ctl.StdoutLines(), "\n");
}

// Feeds the publisher a few lines: one step of a live stream. Small enough
// that a publisher held back never fills its stdin pipe within a test.
void Publish(Process& publisher, int& next) {
  for (int i = 0; i < 5; ++i) publisher.WriteStdin(absl::StrCat("message ", next++, "\n"));
}

class RatesTest : public ::testing::Test {
 protected:
  // A chain a → b → c (a may feed one child): every node but a receives.
  // The controller keeps a stopped node in the tree for a minute.
  RatesTest() : overlay_({"--liveness-ms", "60000"}) {}

  void SetUp() override {
    overlay_.StartNode("node-a", /*max_fanout=*/1);
    overlay_.StartNode("node-b", 1);
    overlay_.StartNode("node-c", 1);
    for (const char* node : {"node-b", "node-c"}) {
      subscribers_.push_back(overlay_.StartSubscriber(node, {"--group", kGroup}));
      ASSERT_TRUE(subscribers_.back()->WaitForStderr("joined", kWait)) << overlay_.Logs();
    }
    publisher_ = overlay_.StartPublisher("node-a", kGroup, "ticker");
  }

  // Polls GetTree with traffic, publishing meanwhile, until `done` holds.
  bool AwaitTraffic(const std::function<bool(const v1::SourceTree&)>& done,
                    v1::SourceTree* last = nullptr) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      Publish(*publisher_, next_);
      grpc::ClientContext context;
      v1::GetTreeRequest request;
      request.set_group(kGroup);
      request.set_traffic(true);
      v1::GetTreeResponse response;
      if (overlay_.stub().GetTree(&context, request, &response).ok() &&
          response.trees_size() == 1) {
        if (last != nullptr) *last = response.trees(0);
        if (done(response.trees(0))) return true;
      }
      absl::SleepFor(absl::Milliseconds(100));  // poll interval, bounded by the deadline
    }
    return false;
  }

  Overlay overlay_;
  std::vector<std::unique_ptr<Process>> subscribers_;
  std::unique_ptr<Process> publisher_;
  int next_ = 0;
};

bool EveryEdgeMoves(const v1::SourceTree& tree) {
  if (tree.edges_size() != 2) return false;
  for (const v1::TreeEdge& e : tree.edges()) {
    if (!e.has_traffic() || e.traffic().bytes_per_s() <= 0) return false;
  }
  return tree.traffic().receivers().size() == 2;
}

TEST_F(RatesTest, EveryEdgeOfALiveStreamHasARateAndAStoppedChildLags) {
  v1::SourceTree tree;
  ASSERT_TRUE(AwaitTraffic(EveryEdgeMoves, &tree)) << tree.DebugString() << overlay_.Logs();

  // canopyctl shows the same: JSON with a rate on every edge, text with a
  // rate and a lag on every edge line and a line per receiver.
  v1::GetTreeResponse shown;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Canopyctl(overlay_, {"tree", kGroup, "--rates", "--format", "json"}), &shown)
                  .ok());
  ASSERT_EQ(shown.trees_size(), 1);
  for (const v1::TreeEdge& e : shown.trees(0).edges()) {
    EXPECT_GT(e.traffic().bytes_per_s(), 0) << e.DebugString();
  }
  const std::string text = Canopyctl(overlay_, {"tree", kGroup, "--rates"});
  int edge_lines = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StrContains(line, "── ")) continue;
    ++edge_lines;
    EXPECT_TRUE(absl::StrContains(line, "bit/s") && absl::StrContains(line, "lag ")) << line << "\n"
                                                                                     << text;
    EXPECT_FALSE(absl::StrContains(line, " 0 bit/s")) << text;
  }
  EXPECT_EQ(edge_lines, 2) << text;
  EXPECT_TRUE(absl::StrContains(text, "receiver node-b  delivered")) << text;
  EXPECT_TRUE(absl::StrContains(text, "receiver node-c  delivered")) << text;
  const std::string dot = Canopyctl(overlay_, {"tree", kGroup, "--rates", "--format", "dot"});
  EXPECT_TRUE(absl::StrContains(dot, "cluster_legend")) << dot;
  EXPECT_TRUE(absl::StrContains(dot, "bit/s\\nlag ")) << dot;

  // Stop the end of the chain: its edge lags, and says so.
  std::string leaf;
  for (const v1::TreeEdge& e : tree.edges()) {
    if (e.parent() != tree.root()) leaf = e.child();
  }
  ASSERT_FALSE(leaf.empty()) << tree.DebugString();
  overlay_.node(leaf).Signal(SIGSTOP);
  absl::Cleanup resume = [&] { overlay_.node(leaf).Signal(SIGCONT); };
  auto leaf_lags = [&](const v1::SourceTree& t) {
    for (const v1::TreeEdge& e : t.edges()) {
      if (e.child() == leaf) return e.traffic().lag_messages() > 0 && e.traffic().lagging();
    }
    return false;
  };
  ASSERT_TRUE(AwaitTraffic(leaf_lags, &tree)) << tree.DebugString() << overlay_.Logs();
  const std::string lagging = Canopyctl(overlay_, {"tree", kGroup, "--rates"});
  bool marked = false;
  for (absl::string_view line : absl::StrSplit(lagging, '\n')) {
    if (absl::StrContains(line, absl::StrCat("── ", leaf)) && absl::StrContains(line, "[LAGGING]"))
      marked = true;
  }
  EXPECT_TRUE(marked) << lagging;

  // top lists the chain's links and the stopped receiver first.
  v1::TopResponse top;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Canopyctl(overlay_, {"top", "--format", "json"}), &top)
                  .ok());
  EXPECT_EQ(top.links_size(), 2) << top.DebugString();
  ASSERT_GE(top.receivers_size(), 1) << top.DebugString();
  EXPECT_EQ(top.receivers(0).node_id(), leaf) << top.DebugString();
  EXPECT_TRUE(top.receivers(0).traffic().lagging()) << top.DebugString();
}

}  // namespace
}  // namespace canopy::testing
