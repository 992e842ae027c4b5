// Golden outputs of canopyctl's renderings. Each rendering of a hand-built
// message is compared byte for byte with tests/cli/golden/NAME. To accept a
// deliberate change, run with CANOPY_UPDATE_GOLDEN=1 and review the diff.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/json.h"
#include "cli/render_dot.h"
#include "cli/render_rates.h"
#include "cli/render_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace canopy::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string GoldenPath(const std::string& name) {
  return absl::StrCat(CANOPY_CLI_GOLDEN_DIR, "/", name);
}

// Empty string (and a failure) if the file cannot be read.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A readable account of the first difference: line number, both lines, and
// the whole actual text.
std::string Diff(const std::string& expected, const std::string& actual) {
  std::vector<std::string> e = absl::StrSplit(expected, '\n');
  std::vector<std::string> a = absl::StrSplit(actual, '\n');
  size_t line = 0;
  while (line < e.size() && line < a.size() && e[line] == a[line]) ++line;
  return absl::StrCat("first difference at line ", line + 1, ":\n  golden: ",
                      line < e.size() ? absl::StrCat("\"", e[line], "\"") : "(end of file)",
                      "\n  actual: ",
                      line < a.size() ? absl::StrCat("\"", a[line], "\"") : "(end of output)",
                      "\nwhole actual output:\n", actual,
                      "\n(run with CANOPY_UPDATE_GOLDEN=1 to accept it)");
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = GoldenPath(name);
  if (std::getenv("CANOPY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream probe(path);
  ASSERT_TRUE(probe.good()) << "missing golden file " << path
                            << " (run with CANOPY_UPDATE_GOLDEN=1 to create it)";
  const std::string expected = ReadFile(path);
  EXPECT_TRUE(expected == actual) << "rendering differs from " << path << "\n"
                                  << Diff(expected, actual);
}

v1::TreeEdge* AddEdge(v1::SourceTree* t, const std::string& parent, const std::string& child,
                      int64_t cost) {
  v1::TreeEdge* e = t->add_edges();
  e->set_parent(parent);
  e->set_child(child);
  e->set_cost(cost);
  return e;
}

// Two sources: a latency tree with a relay, fan-out limits (one unlimited)
// and a receiving ingress; a cost tree with a single edge.
v1::GetTreeResponse TwoTrees() {
  v1::GetTreeResponse r;
  r.set_group("training/ckpt");
  v1::SourceTree* t = r.add_trees();
  t->set_source("trainer");
  t->set_root("node-a");
  t->set_profile(v1::TREE_PROFILE_LATENCY);
  AddEdge(t, "node-a", "node-c", 150);
  AddEdge(t, "node-a", "node-b", 120);
  AddEdge(t, "node-b", "node-d", 80);
  AddEdge(t, "node-b", "node-e", 95);
  t->set_cost(445);
  for (const char* n : {"node-a", "node-c", "node-d", "node-e"}) t->add_receivers(n);
  (*t->mutable_max_fanout())["node-a"] = 2;
  (*t->mutable_max_fanout())["node-b"] = 2;
  (*t->mutable_max_fanout())["node-c"] = 0;
  (*t->mutable_max_fanout())["node-d"] = 4;
  v1::SourceTree* u = r.add_trees();
  u->set_source("eval");
  u->set_root("node-c");
  u->set_profile(v1::TREE_PROFILE_COST);
  AddEdge(u, "node-c", "node-b", 1000);
  u->set_cost(1000);
  u->add_receivers("node-b");
  (*u->mutable_max_fanout())["node-c"] = 1;
  // A member the tree cannot reach is shown with the reason.
  v1::UnreachableMember* cut = u->add_unreachable();
  cut->set_node_id("node-f");
  cut->set_reason("no overlay path from node-c");
  return r;
}

// Edges that are no tree: a cycle and an edge hanging off nothing. Rendered,
// never looped on.
v1::GetTreeResponse Malformed() {
  v1::GetTreeResponse r;
  r.set_group("g");
  v1::SourceTree* t = r.add_trees();
  t->set_source("s\"q");
  t->set_root("x");
  AddEdge(t, "x", "y", 1);
  AddEdge(t, "y", "x", 2);
  AddEdge(t, "p", "q", 3);
  t->set_cost(6);
  return r;
}

v1::EdgeTraffic Traffic(double bytes_per_s, double messages_per_s, uint64_t sequence,
                        uint64_t lag) {
  v1::EdgeTraffic t;
  t.set_bytes_per_s(bytes_per_s);
  t.set_messages_per_s(messages_per_s);
  t.set_sequence(sequence);
  t.set_lag_messages(lag);
  t.set_lag_bytes(lag * 4096);
  t.set_report_age_ms(400);
  return t;
}

// A live tree (canopyctl tree --rates): node-a feeds three children over
// its limit of two, node-b's link is fast, node-d stopped reporting and
// lags behind node-b.
v1::GetTreeResponse WithTraffic() {
  v1::GetTreeResponse r;
  r.set_group("video");
  v1::SourceTree* t = r.add_trees();
  t->set_source("camera");
  t->set_root("node-a");
  t->set_cost(300);
  (*t->mutable_max_fanout())["node-a"] = 2;
  (*t->mutable_upload_bps())["node-a"] = 10'000'000'000;
  (*t->mutable_upload_bps())["node-b"] = 1'000'000'000;
  *AddEdge(t, "node-a", "node-b", 100)->mutable_traffic() = Traffic(12.5e6, 3050, 91500, 2);
  *AddEdge(t, "node-a", "node-c", 100)->mutable_traffic() = Traffic(12.5e6, 3050, 91501, 1);
  AddEdge(t, "node-a", "node-e", 50);  // not reported yet
  v1::EdgeTraffic stopped = Traffic(0, 0, 40000, 51500);
  stopped.set_lagging(true);
  stopped.set_dropped_frames(17);
  stopped.set_repairs(3);
  stopped.set_queued_bytes(8 << 20);
  stopped.set_report_age_ms(6200);
  *AddEdge(t, "node-b", "node-d", 50)->mutable_traffic() = stopped;
  for (const char* n : {"node-c", "node-d", "node-e"}) t->add_receivers(n);
  v1::SourceTraffic* traffic = t->mutable_traffic();
  *traffic->mutable_ingress() = Traffic(12.5e6, 3050, 91502, 0);
  traffic->mutable_ingress()->set_lag_bytes(0);
  (*traffic->mutable_receivers())["node-c"] = Traffic(12.5e6, 3050, 91501, 1);
  v1::EdgeTraffic far = stopped;
  far.set_lag_messages(51502);
  (*traffic->mutable_receivers())["node-d"] = far;
  return r;
}

v1::TopResponse Top() {
  v1::TopResponse top;
  v1::HotLink* fast = top.add_links();
  fast->set_parent("node-a");
  fast->set_child("node-b");
  fast->set_bytes_per_s(25e6);
  fast->set_messages_per_s(6100);
  fast->set_flows(2);
  fast->set_parent_upload_bps(10'000'000'000);
  fast->set_lag_messages(2);
  v1::HotLink* slow = top.add_links();
  slow->set_parent("node-b");
  slow->set_child("node-d");
  slow->set_flows(1);
  slow->set_queued_bytes(8 << 20);
  slow->set_dropped_frames(17);
  slow->set_lag_messages(51500);
  slow->set_lagging(true);
  v1::SlowReceiver* d = top.add_receivers();
  d->set_group("video");
  d->set_source("camera");
  d->set_node_id("node-d");
  *d->mutable_traffic() = WithTraffic().trees(0).traffic().receivers().at("node-d");
  return top;
}

v1::ListMembersResponse Members() {
  v1::ListMembersResponse r;
  r.set_group("g");
  v1::Member* c = r.add_members();
  c->set_node_id("node-c");
  c->mutable_filter()->set_mode(v1::FILTER_MODE_INCLUDE);
  c->mutable_filter()->add_sources("trainer");
  v1::Member* b = r.add_members();
  b->set_node_id("node-b");
  b->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
  v1::Member* d = r.add_members();
  d->set_node_id("node-long-name");
  d->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
  d->mutable_filter()->add_sources("eval");
  d->mutable_filter()->add_sources("trainer");
  v1::CutOffSource* cut = d->add_cut_off();
  cut->set_group("g");
  cut->set_source("eval");
  cut->set_reason("no overlay path from node-c");
  return r;
}

v1::ControllerStats Stats() {
  v1::ControllerStats s;
  s.set_nodes(5);
  s.set_groups(2);
  s.set_flows(3);
  s.set_full_plans(1);
  s.set_incremental_changes(42);
  s.set_reoptimizations_applied(2);
  s.set_reoptimizations_skipped(7);
  s.set_tables_pushed(118);
  s.set_nodes_expired(1);
  s.set_last_full_plan_us(1234);
  // A leader whose etcd does not answer.
  s.set_store("etcd");
  s.set_store_reachable(false);
  s.set_store_error("etcd lease keep-alive at http://10.0.0.5:2379: Deadline Exceeded");
  s.set_leader_term(731);
  return s;
}

v1::GroupPolicy Policy() {
  v1::GroupPolicy p;
  p.set_group("training/ckpt");
  p.add_allowed_sources("trainer");
  p.add_allowed_sources("eval");
  p.set_profile(v1::TREE_PROFILE_BULK);
  p.set_ttl(4);
  p.set_slow_receiver(v1::SLOW_RECEIVER_REALTIME);
  return p;
}

std::string Json(const google::protobuf::Message& m) {
  absl::StatusOr<std::string> json = ToJson(m, JsonStyle::kPretty);
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : "";
}

TEST(RenderTextTest, Tree) { ExpectGolden("tree.txt", RenderTreeText(TwoTrees())); }
TEST(RenderTextTest, BulkTreeShowsItsShapeAndPrediction) {
  v1::GetTreeResponse r = TwoTrees();
  v1::BulkPrediction* bulk = r.mutable_trees(0)->mutable_bulk();
  bulk->set_shape("forest");
  bulk->set_trees(2);
  bulk->set_stripes(4);
  bulk->set_reference_bytes(uint64_t{1} << 30);
  bulk->set_predicted_seconds(12);
  bulk->set_bound_seconds(10);
  EXPECT_THAT(RenderTreeText(r),
              HasSubstr("bulk: forest of 2 trees over 4 stripes; 1 GiB predicted in 12.0 s, "
                        "bound 10.0 s (1.20×)\n"));
  EXPECT_THAT(RenderTreeText(TwoTrees()), Not(HasSubstr("bulk:")));
}
TEST(RenderTextTest, TreeWithoutSource) {
  v1::GetTreeResponse r;
  r.set_group("g");
  ExpectGolden("tree_empty.txt", RenderTreeText(r));
}
TEST(RenderTextTest, MalformedTreeIsShownNotLoopedOn) {
  ExpectGolden("tree_malformed.txt", RenderTreeText(Malformed()));
}
TEST(RenderTextTest, Members) { ExpectGolden("members.txt", RenderMembersText(Members())); }
TEST(RenderTextTest, Stats) { ExpectGolden("stats.txt", RenderStatsText(Stats())); }
TEST(RenderTextTest, Policy) { ExpectGolden("policy.txt", RenderPolicyText(Policy())); }
TEST(RenderTextTest, DefaultPolicy) {
  v1::GroupPolicy p;
  p.set_group("g");
  ExpectGolden("policy_default.txt", RenderPolicyText(p));
}
TEST(RenderTextTest, TreeWithRates) {
  ExpectGolden("tree_rates.txt", RenderTreeText(WithTraffic()));
}
TEST(RenderTextTest, Top) { ExpectGolden("top.txt", RenderTopText(Top())); }
TEST(RenderTextTest, TopWithoutTraffic) {
  EXPECT_EQ(RenderTopText(v1::TopResponse()),
            "hottest links\n(no traffic reported)\n\nslowest receivers\n(no traffic reported)\n");
}
TEST(RenderTextTest, HighlightColoursOnlyTheMarkers) {
  EXPECT_EQ(Highlight("a  [OVER LIMIT]\nb  [LAGGING]\nunreachable: c  (why)\n"),
            "a  \033[1;31m[OVER LIMIT]\033[0m\nb  \033[1;31m[LAGGING]\033[0m\n"
            "\033[1;31munreachable:\033[0m c  (why)\n");
  EXPECT_EQ(Highlight("plain\n"), "plain\n");
}
TEST(RenderTextTest, Units) {
  EXPECT_EQ(BitRate(0), "0 bit/s");
  EXPECT_EQ(BitRate(125), "1.0 kbit/s");
  EXPECT_EQ(BitRate(12.5e6), "100.0 Mbit/s");
  EXPECT_EQ(BitRate(1.25e9), "10.00 Gbit/s");
  EXPECT_EQ(Bytes(1023), "1023 B");
  EXPECT_EQ(Bytes(1536), "1.5 KiB");
  EXPECT_EQ(Bytes(uint64_t{3} << 30), "3.00 GiB");
  EXPECT_EQ(Count(0.5), "0.5");
  EXPECT_EQ(Count(250), "250");
  EXPECT_EQ(Count(3050), "3.0k");
}

TEST(RenderTextTest, WatchHeader) {
  const absl::Time t = absl::FromUnixMillis(1735787045678);  // 2025-01-02T03:04:05.678Z
  EXPECT_EQ(RenderWatchHeader(t, "g", 3), "=== 2025-01-02T03:04:05.678Z  group g  update 3\n");
}

TEST(RenderJsonTest, Tree) { ExpectGolden("tree.json", Json(TwoTrees())); }
TEST(RenderJsonTest, Members) { ExpectGolden("members.json", Json(Members())); }
TEST(RenderJsonTest, Stats) { ExpectGolden("stats.json", Json(Stats())); }
TEST(RenderJsonTest, Policy) { ExpectGolden("policy.json", Json(Policy())); }
TEST(RenderJsonTest, WatchLine) {
  v1::GetTreeResponse r;
  r.set_group("g");
  absl::StatusOr<std::string> line = WatchJsonLine(absl::FromUnixMillis(1735787045678), 2, r);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "{\"time\":\"2025-01-02T03:04:05.678Z\",\"update\":2,"
                   "\"tree\":{\"group\":\"g\",\"trees\":[]}}\n");
}

TEST(RenderDotTest, Tree) { ExpectGolden("tree.dot", RenderTreeDot(TwoTrees())); }
TEST(RenderDotTest, TreeWithRates) { ExpectGolden("tree_rates.dot", RenderTreeDot(WithTraffic())); }
TEST(RenderJsonTest, Top) { ExpectGolden("top.json", Json(Top())); }
TEST(RenderDotTest, MalformedTreeQuotesNames) {
  ExpectGolden("tree_malformed.dot", RenderTreeDot(Malformed()));
}

// True if `dot` (Debian package graphviz) is on PATH.
bool HaveDot() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

// Runs `dot -Tsvg` on `input`; returns its exit status.
int RunDot(const std::string& input) {
  FILE* pipe = popen("dot -Tsvg >/dev/null", "w");
  if (pipe == nullptr) return -1;
  std::fwrite(input.data(), 1, input.size(), pipe);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RenderDotTest, GraphvizAcceptsTheOutput) {
  if (!HaveDot()) GTEST_SKIP() << "dot not installed (Debian package graphviz)";
  EXPECT_EQ(RunDot(RenderTreeDot(TwoTrees())), 0);
  EXPECT_EQ(RunDot(RenderTreeDot(Malformed())), 0);
  EXPECT_EQ(RunDot(RenderTreeDot(WithTraffic())), 0);
  v1::GetTreeResponse empty;
  empty.set_group("g");
  EXPECT_EQ(RunDot(RenderTreeDot(empty)), 0);
}

}  // namespace
}  // namespace canopy::cli
