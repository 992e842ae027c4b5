#include "tests/system/replicas.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/program.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace canopy::testing {
namespace {

constexpr char kEtcd[] = "/usr/bin/etcd";
constexpr absl::Duration kStart = absl::Seconds(30);

// A loopback TCP port that was free a moment ago (etcd takes no port 0).
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "no free port";
  }
  const uint16_t port = ntohs(address.sin_port);
  close(fd);
  return port;
}

// grpc.health.v1 status of `service` at `address`; false if it does not
// answer SERVING within a second.
bool HealthServing(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

}  // namespace

bool EtcdInstalled() { return access(kEtcd, X_OK) == 0; }

EtcdCluster::EtcdCluster(int members) {
  static int counter = 0;
  dir_ = std::filesystem::temp_directory_path() /
         absl::StrCat("canopy-etcd-", getpid(), "-", counter++);
  std::filesystem::create_directories(dir_);
  for (int i = 0; i < members; ++i) {
    client_ports_.push_back(FreePort());
    peer_ports_.push_back(FreePort());
  }
  members_.resize(members);
  for (int i = 0; i < members; ++i) Start(i);
}

EtcdCluster::~EtcdCluster() {
  members_.clear();  // SIGKILL
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void EtcdCluster::Start(int i) {
  std::vector<std::string> initial;
  for (size_t m = 0; m < peer_ports_.size(); ++m) {
    initial.push_back(absl::StrCat("m", m, "=http://127.0.0.1:", peer_ports_[m]));
  }
  const std::string client = absl::StrCat("http://127.0.0.1:", client_ports_[i]);
  const std::string peer = absl::StrCat("http://127.0.0.1:", peer_ports_[i]);
  if (members_[i])
    retired_logs_ += absl::StrCat("--- etcd m", i, " (before)\n", members_[i]->Stderr());
  members_[i] = std::make_unique<Process>(std::vector<std::string>{
      kEtcd, "--name", absl::StrCat("m", i), "--data-dir", (dir_ / absl::StrCat("m", i)).string(),
      "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
      "--initial-advertise-peer-urls", peer, "--initial-cluster", absl::StrJoin(initial, ","),
      "--initial-cluster-state", "new", "--initial-cluster-token", dir_.filename().string(),
      // Fast elections on loopback: the tests measure failovers.
      "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level",
      "warn"});
}

void EtcdCluster::Kill(int i) {
  members_[i]->Signal(SIGKILL);
  members_[i]->Wait(kStart);
}

bool EtcdCluster::AwaitHealthy(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    bool all = true;
    for (size_t i = 0; i < members_.size() && all; ++i) {
      if (!members_[i]->running()) continue;
      // etcd's own health endpoint says whether the member has a leader.
      Process check({"/usr/bin/etcdctl", "--endpoints",
                     absl::StrCat("http://127.0.0.1:", client_ports_[i]), "--command-timeout=1s",
                     "endpoint", "health"});
      all = check.Wait(absl::Seconds(5)) == 0;
    }
    if (all) return true;
    absl::SleepFor(absl::Milliseconds(100));  // poll interval, bounded by the deadline
  }
  return false;
}

std::string EtcdCluster::endpoints() const {
  std::vector<std::string> urls;
  for (uint16_t port : client_ports_) urls.push_back(absl::StrCat("http://127.0.0.1:", port));
  return absl::StrJoin(urls, ",");
}

std::string EtcdCluster::Logs() const {
  std::string out = retired_logs_;
  for (size_t i = 0; i < members_.size(); ++i) {
    absl::StrAppend(&out, "--- etcd m", i, "\n", members_[i] ? members_[i]->Stderr() : "");
  }
  return out;
}

ControllerReplicas::ControllerReplicas(const EtcdCluster& etcd, int count,
                                       std::vector<std::string> extra_args)
    : etcd_(etcd.endpoints()), extra_args_(std::move(extra_args)) {
  addresses_.resize(count);
  processes_.resize(count);
  for (int i = 0; i < count; ++i) StartReplica(i, "127.0.0.1:0");
}

ControllerReplicas::~ControllerReplicas() {
  for (auto& p : processes_) {
    if (p) p->Signal(SIGCONT);  // a paused one must die too
  }
  processes_.clear();
}

void ControllerReplicas::StartReplica(int i, const std::string& listen) {
  if (processes_[i])
    retired_logs_ += absl::StrCat("--- replica ", i, " (before)\n", processes_[i]->Stderr());
  std::vector<std::string> argv = {BinaryPath("canopy-controller"),
                                   "--listen",
                                   listen,
                                   "--etcd",
                                   etcd_,
                                   "--metrics-listen",
                                   "127.0.0.1:0"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  processes_[i] = std::make_unique<Process>(std::move(argv));
  auto line = processes_[i]->WaitForStdout("listening", kStart);
  if (!line) {
    ADD_FAILURE() << "replica " << i << " did not start: " << processes_[i]->Stderr();
    return;
  }
  addresses_[i] = ListeningField(*line, "grpc");
}

bool ControllerReplicas::Serving(int i) { return HealthServing(addresses_[i], ""); }

std::optional<int> ControllerReplicas::AwaitLeader(absl::Duration timeout,
                                                   const std::vector<int>& ignore) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::vector<int> leaders;
    for (size_t i = 0; i < processes_.size(); ++i) {
      if (std::find(ignore.begin(), ignore.end(), static_cast<int>(i)) != ignore.end()) continue;
      if (!processes_[i]->running()) continue;
      if (Serving(static_cast<int>(i))) leaders.push_back(static_cast<int>(i));
    }
    if (leaders.size() == 1) return leaders.front();
    absl::SleepFor(absl::Milliseconds(50));  // poll interval, bounded by the deadline
  }
  return std::nullopt;
}

void ControllerReplicas::Kill(int i) {
  processes_[i]->Signal(SIGKILL);
  processes_[i]->Wait(kStart);
}

void ControllerReplicas::Pause(int i) { processes_[i]->Signal(SIGSTOP); }
void ControllerReplicas::Resume(int i) { processes_[i]->Signal(SIGCONT); }

void ControllerReplicas::Restart(int i) { StartReplica(i, addresses_[i]); }

std::string ControllerReplicas::addresses() const { return absl::StrJoin(addresses_, ","); }

std::string ControllerReplicas::Logs() const {
  std::string out = retired_logs_;
  for (size_t i = 0; i < processes_.size(); ++i) {
    absl::StrAppend(&out, "--- replica ", i, " (", addresses_[i], ")\n",
                    processes_[i] ? processes_[i]->Stderr() : "");
  }
  return out;
}

}  // namespace canopy::testing
