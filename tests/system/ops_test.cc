// Operability of the real binaries: /metrics scraped over HTTP and parsed as
// the Prometheus text format, grpc.health.v1 before and after a node
// attaches (and after it loses the controller), --metrics-listen and
// --policies.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/program.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/http_client.h"
#include "tests/testing/overlay.h"
#include "tests/testing/process.h"
#include "tests/system/prometheus_text.h"

namespace canopy::testing {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using Families = std::map<std::string, PromFamily>;

constexpr absl::Duration kPoll = absl::Milliseconds(20);

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            absl::StrCat("canopy-ops-", getpid(), "-", counter++);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string Write(const std::string& name, const std::string& text) const {
    FILE* f = std::fopen(File(name).c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return File(name);
  }

 private:
  std::filesystem::path path_;
};

// A started server process and the fields of its "listening" line.
struct Server {
  std::unique_ptr<Process> process;
  std::string line;
  std::string Field(const std::string& key) const { return ListeningField(line, key); }
};

Server StartServer(std::vector<std::string> argv) {
  Server server;
  server.process = std::make_unique<Process>(std::move(argv));
  if (auto line = server.process->WaitForStdout("listening", kWait)) server.line = *line;
  return server;
}

Server StartController(const TempDir& dir, const std::string& listen,
                       std::vector<std::string> extra = {"--metrics-listen", "127.0.0.1:0"}) {
  std::vector<std::string> argv = {BinaryPath("canopy-controller"), "--listen", listen, "--store",
                                   dir.File("store.db")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return StartServer(std::move(argv));
}

Server StartNode(const std::string& id, const std::string& controller,
                 std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {BinaryPath("canopy-node"),
                                   "--id",
                                   id,
                                   "--controller",
                                   controller,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data",
                                   "127.0.0.1:0",
                                   "--metrics-listen",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return StartServer(std::move(argv));
}

// grpc.health.v1 Check of `service` at `address`: the serving status, or
// the RPC's error code (as a negative number) if the call failed.
int CheckHealth(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return -static_cast<int>(status.error_code());
  return response.status();
}

// Polls until CheckHealth returns `want`; false at the deadline.
bool AwaitHealth(const std::string& address, const std::string& service, int want) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (CheckHealth(address, service) == want) return true;
    absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
  }
  return false;
}

// GETs /metrics and parses it strictly.
absl::StatusOr<Families> Scrape(const std::string& address) {
  absl::StatusOr<HttpResponse> response = HttpRequest(address, "GET", "/metrics", kWait);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("HTTP ", response->status, ": ", response->body));
  }
  if (response->headers["content-type"] != "text/plain; version=0.0.4; charset=utf-8") {
    return absl::InternalError("content type " + response->headers["content-type"]);
  }
  return ParsePrometheusText(response->body);
}

// Scrapes until `done` holds for the parsed families; returns the last
// scrape (empty if none parsed).
Families AwaitScrape(const std::string& address, const std::function<bool(const Families&)>& done) {
  Families last;
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    absl::StatusOr<Families> families = Scrape(address);
    EXPECT_TRUE(families.ok()) << families.status();
    if (!families.ok()) return last;
    last = *std::move(families);
    if (done(last)) return last;
    absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
  }
  return last;
}

double Value(const Families& families, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  return FindSample(families, name, labels).value_or(-1);
}

void ExpectFamily(const Families& families, const std::string& name, const std::string& type) {
  auto it = families.find(name);
  ASSERT_NE(it, families.end()) << "no family " << name;
  EXPECT_EQ(it->second.type, type) << name;
  EXPECT_FALSE(it->second.help.empty()) << name;
}

std::string Dump(const Families& families) {
  std::string out;
  for (const auto& [name, family] : families) {
    for (const PromSample& s : family.samples) {
      out += s.name;
      for (const auto& [k, v] : s.labels) out += absl::StrCat(" ", k, "=", v);
      out += absl::StrCat(" ", s.value, "\n");
    }
  }
  return out;
}

constexpr int kServing = HealthCheckResponse::SERVING;
constexpr int kNotServing = HealthCheckResponse::NOT_SERVING;
constexpr int kNotFound = -static_cast<int>(grpc::StatusCode::NOT_FOUND);

// The test's own parser must be strict, or the checks below prove little.
TEST(PrometheusTextTest, AcceptsWellFormedAndRejectsMalformedText) {
  const std::string good =
      "# HELP a_total Things \\\\ and\\n more.\n# TYPE a_total counter\n"
      "a_total{g=\"x\\\"y\\n\"} 3\na_total{g=\"z\"} 4 1700000000\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
      "h_sum 3.5\nh_count 2\n";
  absl::StatusOr<Families> parsed = ParsePrometheusText(good);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(Value(*parsed, "a_total", {{"g", "x\"y\n"}}), 3);
  EXPECT_EQ(Value(*parsed, "h_count"), 2);
  for (const char* bad : {
           "a 1\n",                                                     // no TYPE
           "# TYPE a gauge\na 1",                                       // no final line feed
           "# TYPE a gauge\na 1\na 2\n",                                // duplicate series
           "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 1\n",  // not contiguous
           "# TYPE a gauge\n# TYPE a gauge\na 1\n",                     // second TYPE
           "# TYPE a gauge\na{x=\"\\t\"} 1\n",                          // bad escape
           "# TYPE a gauge\na{x=1} 1\n",                                // unquoted value
           "# TYPE a gauge\na{0x=\"1\"} 1\n",                           // bad label name
           "# TYPE a gauge\na one\n",                                   // bad value
           "# TYPE a_total counter\na_total -1\n",                      // negative counter
           "# TYPE a counter\na 1\n",                                   // counter not *_total
           "# TYPE a gauge\nb 1\n",                                     // other family
           "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
           "h_sum 1\nh_count 1\n",                                            // not cumulative
           "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
       }) {
    EXPECT_FALSE(ParsePrometheusText(bad).ok()) << bad;
  }
}

TEST(OpsTest, HealthFollowsAttachmentAndMetricsParse) {
  TempDir dir;
  // A controller comes up once to learn a free address, then goes away: the
  // node starts while nothing listens there.
  Server controller = StartController(dir, "127.0.0.1:0");
  ASSERT_FALSE(controller.line.empty()) << controller.process->Stderr();
  const std::string grpc_address = controller.Field("grpc");
  const std::string controller_metrics = controller.Field("metrics");
  ASSERT_FALSE(controller_metrics.empty()) << controller.line;
  EXPECT_EQ(CheckHealth(grpc_address, ""), kServing);
  EXPECT_EQ(CheckHealth(grpc_address, "canopy.v1.Controller"), kServing);
  EXPECT_EQ(CheckHealth(grpc_address, "no.such.Service"), kNotFound);
  absl::StatusOr<Families> scraped = Scrape(controller_metrics);
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  EXPECT_EQ(Value(*scraped, "canopy_controller_attached_nodes"), 0);
  controller.process->Signal(SIGTERM);
  ASSERT_EQ(controller.process->Wait(kWait), 0) << controller.process->Stderr();

  Server node = StartNode("node-a", grpc_address);
  ASSERT_FALSE(node.line.empty()) << node.process->Stderr();
  const std::string node_grpc = node.Field("clients");
  const std::string node_metrics = node.Field("metrics");
  ASSERT_FALSE(node_metrics.empty()) << node.line;
  // Alive but not ready: no controller yet.
  EXPECT_EQ(CheckHealth(node_grpc, "canopy.v1.Node"), kServing);
  EXPECT_EQ(CheckHealth(node_grpc, ""), kNotServing);
  scraped = Scrape(node_metrics);
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  EXPECT_EQ(Value(*scraped, "canopy_node_attached"), 0);
  EXPECT_EQ(Value(*scraped, "canopy_node_controller_attaches_total"), 0);
  EXPECT_EQ(Value(*scraped, "canopy_node_table_version"), 0);

  // The controller arrives at that address: the node attaches and is ready.
  controller = StartController(dir, grpc_address);
  ASSERT_EQ(controller.Field("grpc"), grpc_address) << controller.process->Stderr();
  const std::string metrics_now = controller.Field("metrics");
  ASSERT_TRUE(AwaitHealth(node_grpc, "", kServing))
      << node.process->Stderr() << controller.process->Stderr();

  // Members and a flow: a subscriber and a publisher at the node.
  auto subscriber = std::make_unique<Process>(
      std::vector<std::string>{BinaryPath("canopy-sub"), "--node", node_grpc, "--group", "ops/g"});
  ASSERT_TRUE(subscriber->WaitForStderr("joined", kWait)) << subscriber->Stderr();
  auto publisher = std::make_unique<Process>(std::vector<std::string>{
      BinaryPath("canopy-pub"), "--node", node_grpc, "--group", "ops/g", "--source", "src"});
  ASSERT_TRUE(publisher->WriteStdin("hello\n"));
  ASSERT_TRUE(subscriber->WaitForStdoutLines(1, kWait)) << subscriber->Stderr();

  const std::map<std::string, std::string> group = {{"group", "ops/g"}};
  Families n = AwaitScrape(node_metrics, [&](const Families& f) {
    return Value(f, "canopy_node_table_version") >= 1 && Value(f, "canopy_node_flows") >= 1 &&
           Value(f, "canopy_node_local_publishers", group) == 1;
  });
  EXPECT_EQ(Value(n, "canopy_node_attached"), 1) << Dump(n);
  EXPECT_EQ(Value(n, "canopy_node_controller_attaches_total"), 1) << Dump(n);
  EXPECT_GE(Value(n, "canopy_node_table_version"), 1) << Dump(n);
  EXPECT_GE(Value(n, "canopy_node_flows"), 1) << Dump(n);
  EXPECT_EQ(Value(n, "canopy_node_local_publishers", group), 1) << Dump(n);
  EXPECT_EQ(Value(n, "canopy_node_local_subscribers", group), 1) << Dump(n);
  ExpectFamily(n, "canopy_node_received_bytes_total", "counter");
  ExpectFamily(n, "canopy_node_received_frames_total", "counter");
  ExpectFamily(n, "canopy_node_sent_bytes_total", "counter");
  ExpectFamily(n, "canopy_node_sent_frames_total", "counter");
  ExpectFamily(n, "canopy_node_dropped_frames_total", "counter");
  ExpectFamily(n, "canopy_node_link_queue_bytes", "gauge");
  ExpectFamily(n, "canopy_node_subscriber_queue_bytes", "gauge");
  ExpectFamily(n, "canopy_node_replay_ring_bytes", "gauge");
  for (const auto& [name, family] : n) {
    for (const PromSample& s : family.samples) EXPECT_GE(s.value, 0) << s.name;
  }

  Families c = AwaitScrape(metrics_now, [&](const Families& f) {
    return Value(f, "canopy_controller_flows") >= 1 &&
           Value(f, "canopy_controller_tree_version", group) >= 1;
  });
  EXPECT_EQ(Value(c, "canopy_controller_attached_nodes"), 1) << Dump(c);
  EXPECT_EQ(Value(c, "canopy_controller_groups"), 1) << Dump(c);
  EXPECT_EQ(Value(c, "canopy_controller_group_member_nodes", group), 1) << Dump(c);
  EXPECT_GE(Value(c, "canopy_controller_tree_version", group), 1) << Dump(c);
  EXPECT_GE(Value(c, "canopy_controller_flows"), 1) << Dump(c);
  EXPECT_GE(Value(c, "canopy_controller_tables_pushed_total"), 1) << Dump(c);
  EXPECT_EQ(Value(c, "canopy_controller_nodes_expired_total"), 0) << Dump(c);
  ExpectFamily(c, "canopy_controller_plan_duration_seconds", "histogram");
  EXPECT_GE(Value(c, "canopy_controller_plan_duration_seconds_count", {{"event", "attach"}}), 1)
      << Dump(c);
  EXPECT_GE(Value(c, "canopy_controller_plan_duration_seconds_count", {{"event", "membership"}}), 1)
      << Dump(c);
  ExpectFamily(c, "canopy_controller_reoptimizations_total", "counter");
  ExpectFamily(c, "canopy_controller_full_plans_total", "counter");
  ExpectFamily(c, "canopy_controller_incremental_changes_total", "counter");
  ExpectFamily(c, "canopy_controller_last_full_plan_seconds", "gauge");
  publisher->CloseStdin();
  EXPECT_EQ(publisher->Wait(kWait), 0) << publisher->Stderr();
  subscriber.reset();

  // The controller goes away: the node is no longer ready, but alive.
  controller.process->Signal(SIGTERM);
  ASSERT_EQ(controller.process->Wait(kWait), 0) << controller.process->Stderr();
  EXPECT_TRUE(AwaitHealth(node_grpc, "", kNotServing)) << node.process->Stderr();
  EXPECT_EQ(CheckHealth(node_grpc, "canopy.v1.Node"), kServing);
  n = AwaitScrape(node_metrics,
                  [](const Families& f) { return Value(f, "canopy_node_attached") == 0; });
  EXPECT_EQ(Value(n, "canopy_node_attached"), 0) << Dump(n);

  // Back again: ready again, second attach counted.
  controller = StartController(dir, grpc_address);
  ASSERT_EQ(controller.Field("grpc"), grpc_address) << controller.process->Stderr();
  EXPECT_TRUE(AwaitHealth(node_grpc, "", kServing)) << node.process->Stderr();
  n = AwaitScrape(node_metrics, [](const Families& f) {
    return Value(f, "canopy_node_controller_attaches_total") == 2;
  });
  EXPECT_EQ(Value(n, "canopy_node_controller_attaches_total"), 2) << Dump(n);

  // Whatever else is asked of the metrics ports is refused, not crashed on.
  for (const std::string& address : {node_metrics, controller.Field("metrics")}) {
    absl::StatusOr<HttpResponse> r = HttpRequest(address, "GET", "/nope", kWait);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 404);
    r = HttpRequest(address, "DELETE", "/metrics", kWait);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 405);
    r = HttpRequest(address, "HEAD", "/metrics", kWait);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
  }
  node.process->Signal(SIGTERM);
  EXPECT_EQ(node.process->Wait(kWait), 0) << node.process->Stderr();
}

// Binds 127.0.0.1:port (listening) if it is free; returns the socket or -1.
int Occupy(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(OpsTest, MetricsPortConflicts) {
  TempDir dir;
  Server first = StartController(dir, "127.0.0.1:0");
  ASSERT_FALSE(first.Field("metrics").empty()) << first.process->Stderr();

  // An explicit --metrics-listen that cannot bind is a startup error.
  TempDir other;
  Process clash({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store",
                 other.File("store.db"), "--metrics-listen", first.Field("metrics")});
  EXPECT_EQ(clash.Wait(kWait), 1);
  EXPECT_THAT(clash.Stderr(), HasSubstr("cannot listen on metrics address"));

  // The default port (127.0.0.1:7690) taken: the controller runs without
  // /metrics and says so (several controllers or nodes on one host). Hold
  // the port ourselves: others (parallel tests) only hold it for a while.
  int held = Occupy(7690);
  const absl::Time deadline = absl::Now() + kWait;
  while (held < 0 && absl::Now() < deadline) {
    absl::SleepFor(kPoll);  // poll interval, bounded by the deadline
    held = Occupy(7690);
  }
  if (held < 0) GTEST_SKIP() << "127.0.0.1:7690 stays taken by another program";
  Server fallback = StartServer({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0",
                                 "--store", other.File("store.db")});
  close(held);
  ASSERT_FALSE(fallback.line.empty()) << fallback.process->Stderr();
  EXPECT_EQ(fallback.Field("metrics"), "") << fallback.line;
  // Stderr is read on its own thread: wait for the line rather than race it.
  EXPECT_TRUE(fallback.process->WaitForStderr("serving no /metrics", kWait))
      << fallback.process->Stderr();

  // A malformed address is a command-line error.
  Process bad({BinaryPath("canopy-node"), "--id", "n", "--controller", "127.0.0.1:1",
               "--metrics-listen", "nowhere"});
  EXPECT_EQ(bad.Wait(kWait), 1);
  EXPECT_THAT(bad.Stderr(), HasSubstr("--metrics-listen"));
}

TEST(OpsTest, PoliciesFileIsAppliedAtStart) {
  TempDir dir;
  const std::string policies = dir.Write("policies.json", R"({"policies": [
      {"group": "training/ckpt", "allowed_sources": ["trainer"], "profile": "TREE_PROFILE_COST",
       "ttl": 4, "slow_receiver": "SLOW_RECEIVER_REALTIME"}]})");
  Server controller = StartController(dir, "127.0.0.1:0", {"--policies", policies});
  ASSERT_FALSE(controller.line.empty()) << controller.process->Stderr();
  auto stub = v1::Controller::NewStub(
      grpc::CreateChannel(controller.Field("grpc"), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GetPolicyRequest request;
  request.set_group("training/ckpt");
  v1::GroupPolicy policy;
  ASSERT_TRUE(stub->GetPolicy(&context, request, &policy).ok());
  EXPECT_EQ(policy.allowed_sources_size(), 1);
  EXPECT_EQ(policy.profile(), v1::TREE_PROFILE_COST);
  EXPECT_EQ(policy.ttl(), 4u);
  EXPECT_EQ(policy.slow_receiver(), v1::SLOW_RECEIVER_REALTIME);

  const std::string bad = dir.Write("bad.json", R"({"policies": [{"group": "g", "ttl": 300}]})");
  TempDir other;
  Process refused({BinaryPath("canopy-controller"), "--listen", "127.0.0.1:0", "--store",
                   other.File("store.db"), "--metrics-listen", "127.0.0.1:0", "--policies", bad});
  EXPECT_EQ(refused.Wait(kWait), 1);
  EXPECT_THAT(refused.Stderr(), HasSubstr("bad.json: policies[0]: ttl 300 is above 255"));
}

// Every metric name (canopy_…) a file of the repository mentions.
std::set<std::string> MetricNamesIn(const std::string& relative_path) {
  std::ifstream in(std::string(CANOPY_SOURCE_DIR) + "/" + relative_path);
  EXPECT_TRUE(in.good()) << relative_path;
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  std::set<std::string> names;
  const std::regex metric("canopy_(node|controller)_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), metric);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// The family and sample names (histograms' _bucket, _sum, _count) scraped.
void AddNames(const Families& families, std::set<std::string>& names) {
  for (const auto& [name, family] : families) {
    names.insert(name);
    for (const PromSample& s : family.samples) names.insert(s.name);
  }
}

// A node and a controller with a flow, scraped; then a group that ended
// loses its gauges at both.
class LiveMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    controller_ = StartController(dir_, "127.0.0.1:0");
    ASSERT_FALSE(controller_.line.empty()) << controller_.process->Stderr();
    node_ = StartNode("node-a", controller_.Field("grpc"), {"--source-linger-ms", "0"});
    ASSERT_FALSE(node_.line.empty()) << node_.process->Stderr();
    subscriber_ = std::make_unique<Process>(std::vector<std::string>{
        BinaryPath("canopy-sub"), "--node", node_.Field("clients"), "--group", "ops/ended"});
    ASSERT_TRUE(subscriber_->WaitForStderr("joined", kWait)) << subscriber_->Stderr();
    publisher_ = std::make_unique<Process>(
        std::vector<std::string>{BinaryPath("canopy-pub"), "--node", node_.Field("clients"),
                                 "--group", "ops/ended", "--source", "src"});
    ASSERT_TRUE(publisher_->WriteStdin("hello\n"));
    ASSERT_TRUE(subscriber_->WaitForStdoutLines(1, kWait)) << subscriber_->Stderr();
  }

  TempDir dir_;
  Server controller_, node_;
  std::unique_ptr<Process> subscriber_, publisher_;
};

// The Grafana dashboard and the alerting rules (k8s/monitoring) query only
// metrics the programs export.
TEST_F(LiveMetricsTest, DashboardAndAlertsNameOnlyExportedMetrics) {
  const std::map<std::string, std::string> group = {{"group", "ops/ended"}};
  std::set<std::string> exported;
  AddNames(AwaitScrape(node_.Field("metrics"),
                       [&](const Families& f) {
                         return Value(f, "canopy_node_received_bytes_total", group) > 0;
                       }),
           exported);
  AddNames(AwaitScrape(controller_.Field("metrics"),
                       [&](const Families& f) { return Value(f, "canopy_controller_flows") >= 1; }),
           exported);
  for (const char* file :
       {"k8s/monitoring/dashboards/canopy.json", "k8s/monitoring/prometheus-rule.yaml"}) {
    const std::set<std::string> used = MetricNamesIn(file);
    EXPECT_GE(used.size(), 5u) << file;
    for (const std::string& name : used) {
      EXPECT_TRUE(exported.contains(name))
          << file << " queries " << name << ", which no /metrics exports";
    }
  }
}

TEST_F(LiveMetricsTest, GaugesOfGroupsThatEndedAreRemoved) {
  const std::map<std::string, std::string> group = {{"group", "ops/ended"}};
  Families n = AwaitScrape(node_.Field("metrics"), [&](const Families& f) {
    return Value(f, "canopy_node_local_publishers", group) == 1;
  });
  ASSERT_EQ(Value(n, "canopy_node_local_subscribers", group), 1) << Dump(n);
  Families c = AwaitScrape(controller_.Field("metrics"), [&](const Families& f) {
    return Value(f, "canopy_controller_tree_version", group) >= 1;
  });
  ASSERT_EQ(Value(c, "canopy_controller_group_member_nodes", group), 1) << Dump(c);

  publisher_->CloseStdin();
  EXPECT_EQ(publisher_->Wait(kWait), 0) << publisher_->Stderr();
  subscriber_.reset();
  auto gone = [&](const Families& f, std::initializer_list<const char*> gauges) {
    for (const char* name : gauges) {
      if (FindSample(f, name, group).has_value()) return false;
    }
    return true;
  };
  const auto node_gauges = {"canopy_node_local_subscribers", "canopy_node_local_publishers",
                            "canopy_node_replay_ring_bytes"};
  n = AwaitScrape(node_.Field("metrics"), [&](const Families& f) { return gone(f, node_gauges); });
  EXPECT_TRUE(gone(n, node_gauges)) << Dump(n);
  // Counters stay: what the group moved is history, not state.
  EXPECT_GT(Value(n, "canopy_node_received_bytes_total", group), 0) << Dump(n);
  const auto controller_gauges = {"canopy_controller_group_member_nodes",
                                  "canopy_controller_tree_version"};
  c = AwaitScrape(controller_.Field("metrics"),
                  [&](const Families& f) { return gone(f, controller_gauges); });
  EXPECT_TRUE(gone(c, controller_gauges)) << Dump(c);
}

}  // namespace
}  // namespace canopy::testing
