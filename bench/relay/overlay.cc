#include "bench/relay/overlay.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "grpcpp/create_channel.h"

namespace canopy::bench {
namespace {

// Poll interval for controller state; every poll loop is bounded by a deadline.
constexpr absl::Duration kPoll = absl::Milliseconds(20);

// Deadline of one inspection RPC.
std::chrono::system_clock::time_point RpcDeadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(2);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::Status MakeCertificates(const std::string& dir, const std::vector<std::string>& nodes) {
  const std::string script = CANOPY_SOURCE_DIR "/scripts/make-certs";
  if (!std::filesystem::exists(script)) {
    return absl::UnavailableError(absl::StrCat(script, " is missing"));
  }
  const std::string log = dir + ".log";
  std::string command = absl::StrCat("/bin/bash '", script, "' '", dir, "'");
  for (const std::string& node : nodes) absl::StrAppend(&command, " --node ", node);
  absl::StrAppend(&command, " --publisher bench --operator bench >'", log, "' 2>&1");
  const int rc = std::system(command.c_str());
  const std::string output = ReadFile(log);
  std::error_code ignored;
  std::filesystem::remove(log, ignored);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::UnavailableError(absl::StrCat("scripts/make-certs failed: ", output));
  }
  return absl::OkStatus();
}

std::vector<std::string> RelayOverlay::TlsFlags(const std::string& name) const {
  if (!tls_dir_) return {};
  const std::filesystem::path dir(*tls_dir_);
  return {"--tls-ca",   (dir / "ca.crt").string(),
          "--tls-cert", (dir / (name + ".crt")).string(),
          "--tls-key",  (dir / (name + ".key")).string()};
}

std::optional<ClientTlsFiles> RelayOverlay::client_tls() const {
  if (!tls_dir_) return std::nullopt;
  const std::filesystem::path dir(*tls_dir_);
  return ClientTlsFiles{(dir / "ca.crt").string(), (dir / "publisher-bench.crt").string(),
                        (dir / "publisher-bench.key").string()};
}

std::string RelayOverlay::NodeLog(const std::string& id) const {
  return ReadFile(dir_ / (id + ".log"));
}

absl::StatusOr<std::unique_ptr<RelayOverlay>> RelayOverlay::Start(
    const std::string& links, absl::Duration timeout, std::optional<std::string> tls_dir) {
  static int counter = 0;
  std::unique_ptr<RelayOverlay> overlay(new RelayOverlay());
  overlay->tls_dir_ = std::move(tls_dir);
  overlay->dir_ = std::filesystem::temp_directory_path() /
                  absl::StrCat("canopy-bench-relay-", getpid(), "-", counter++);
  std::filesystem::create_directories(overlay->dir_);
  const std::string links_path = (overlay->dir_ / "links.txt").string();
  std::ofstream(links_path) << links;
  std::vector<std::string> argv = {
      SiblingBinary("canopy-controller"),    "--listen", "127.0.0.1:0", "--store",
      (overlay->dir_ / "store.db").string(), "--links",  links_path};
  for (std::string& flag : overlay->TlsFlags("controller")) argv.push_back(std::move(flag));
  auto controller =
      ChildProcess::Start(std::move(argv), (overlay->dir_ / "controller.log").string());
  if (!controller.ok()) return controller.status();
  overlay->controller_ = std::move(*controller);
  auto line = overlay->controller_->WaitForLine("listening", timeout);
  if (!line) {
    return absl::UnavailableError("canopy-controller did not start: " +
                                  overlay->controller_->StderrTail());
  }
  overlay->controller_address_ = ListeningField(*line, "grpc");
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (overlay->tls_dir_) {
    const std::filesystem::path dir(*overlay->tls_dir_);
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{(dir / "ca.crt").string(), (dir / "operator-bench.crt").string(),
                              (dir / "operator-bench.key").string()});
    if (!pem.ok()) return pem.status();
    credentials = TlsChannelCredentials(*pem);
  }
  overlay->stub_ =
      v1::Controller::NewStub(grpc::CreateChannel(overlay->controller_address_, credentials));
  return overlay;
}

RelayOverlay::~RelayOverlay() {
  nodes_.clear();  // SIGKILL + reap each
  controller_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status RelayOverlay::SpawnNode(const std::string& id, int max_fanout) {
  std::vector<std::string> argv = {SiblingBinary("canopy-node"),
                                   "--id",
                                   id,
                                   "--controller",
                                   controller_address_,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data",
                                   "127.0.0.1:0",
                                   "--max-fanout",
                                   std::to_string(max_fanout)};
  for (std::string& flag : TlsFlags("node-" + id)) argv.push_back(std::move(flag));
  auto node = ChildProcess::Start(std::move(argv), (dir_ / (id + ".log")).string());
  if (!node.ok()) return node.status();
  nodes_[id] = std::move(*node);
  return absl::OkStatus();
}

absl::Status RelayOverlay::AwaitNodes(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (auto& [id, node] : nodes_) {
    if (clients_.count(id)) continue;
    auto line = node->WaitForLine("listening", deadline - absl::Now());
    if (!line) return absl::UnavailableError("node " + id + " did not start: " + node->StderrTail());
    clients_[id] = ListeningField(*line, "clients");
  }
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(RpcDeadline());
    v1::ListNodesResponse response;
    if (stub_->ListNodes(&context, {}, &response).ok()) {
      std::set<std::string> listed;
      for (const auto& n : response.nodes()) listed.insert(n.node_id());
      bool all = true;
      for (const auto& [id, node] : nodes_) all = all && listed.count(id) > 0;
      if (all) return absl::OkStatus();
    }
    absl::SleepFor(kPoll);
  }
  return absl::DeadlineExceededError("the controller did not list every node in time");
}

bool RelayOverlay::AllTablesApplied() {
  grpc::ClientContext context;
  context.set_deadline(RpcDeadline());
  v1::ListNodesResponse response;
  if (!stub_->ListNodes(&context, {}, &response).ok()) return false;
  for (const auto& n : response.nodes()) {
    if (n.table_version_applied() != n.table_version_sent()) return false;
  }
  return true;
}

absl::StatusOr<std::string> RelayOverlay::AwaitFlow(const std::string& group,
                                                    const std::string& source,
                                                    const std::vector<std::string>& receivers,
                                                    absl::Duration timeout) {
  const std::set<std::string> wanted(receivers.begin(), receivers.end());
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_seen = "(no tree)";
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(RpcDeadline());
    v1::GetTreeRequest request;
    request.set_group(group);
    v1::GetTreeResponse response;
    if (stub_->GetTree(&context, request, &response).ok()) {
      for (const auto& tree : response.trees()) {
        if (tree.source() != source) continue;
        std::vector<std::string> edges;
        for (const auto& e : tree.edges()) edges.push_back(e.parent() + "->" + e.child());
        last_seen = absl::StrCat("root ", tree.root(), " edges {", absl::StrJoin(edges, ", "),
                                 "} receivers {", absl::StrJoin(tree.receivers(), ", "), "}");
        const std::set<std::string> got(tree.receivers().begin(), tree.receivers().end());
        if (got == wanted && AllTablesApplied()) return last_seen;
      }
    }
    absl::SleepFor(kPoll);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("tree of ", group, "/", source, " not ready in time; last seen: ", last_seen));
}

std::vector<std::string> RelayOverlay::node_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, node] : nodes_) ids.push_back(id);
  return ids;
}

std::string RelayOverlay::Logs() const {
  std::string out = "--- controller\n" + controller_->StderrTail();
  for (const auto& [id, node] : nodes_) out += "\n--- " + id + "\n" + node->StderrTail();
  return out;
}

}  // namespace canopy::bench
