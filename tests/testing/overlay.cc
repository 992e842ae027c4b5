#include "tests/testing/overlay.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/poll.h"

namespace canopy::testing {
namespace {

// Poll interval for controller state; every poll loop is bounded by a deadline.
constexpr absl::Duration kPoll = absl::Milliseconds(20);

// Deadline of one inspection RPC.
std::chrono::system_clock::time_point RpcDeadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(5);
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

void Overlay::MakeDirectory(const std::string& prefix) {
  static int counter = 0;
  dir_ = std::filesystem::temp_directory_path() / absl::StrCat(prefix, getpid(), "-", counter++);
  std::filesystem::create_directories(dir_);
}

absl::StatusOr<std::unique_ptr<Overlay>> Overlay::Start(OverlayOptions options) {
  std::unique_ptr<Overlay> overlay(new Overlay(NoController{}));
  overlay->MakeDirectory("canopy-overlay-");
  overlay->tls_dir_ = std::move(options.tls_dir);
  overlay->controller_args_ = std::move(options.controller_args);
  if (!options.links.empty()) {
    overlay->controller_args_.push_back("--links");
    overlay->controller_args_.push_back(overlay->WriteFile("links.txt", options.links));
  }
  if (absl::Status s = overlay->StartController("127.0.0.1:0"); !s.ok()) return s;
  overlay->nodes_controller_ = overlay->controller_address_;
  return overlay;
}

std::vector<std::string> Overlay::TlsFlags(const std::string& name) const {
  if (!tls_dir_) return {};
  const std::filesystem::path dir(*tls_dir_);
  return {"--tls-ca",   (dir / "ca.crt").string(),
          "--tls-cert", (dir / (name + ".crt")).string(),
          "--tls-key",  (dir / (name + ".key")).string()};
}

std::optional<ClientTlsFiles> Overlay::client_tls() const {
  if (!tls_dir_) return std::nullopt;
  const std::filesystem::path dir(*tls_dir_);
  return ClientTlsFiles{(dir / "ca.crt").string(), (dir / "publisher-bench.crt").string(),
                        (dir / "publisher-bench.key").string()};
}

Overlay::Overlay(std::vector<std::string> controller_args, const std::string& links)
    : controller_args_(std::move(controller_args)) {
  MakeDirectory("canopy-system-");
  if (!links.empty()) {
    controller_args_.push_back("--links");
    controller_args_.push_back(WriteFile("links.txt", links));
  }
  if (absl::Status s = StartController("127.0.0.1:0"); !s.ok()) {
    ADD_FAILURE() << s.message();
    return;
  }
  nodes_controller_ = controller_address_;
}

std::unique_ptr<Overlay> Overlay::OnReplicas(const std::string& controllers,
                                             const std::string& leader) {
  std::unique_ptr<Overlay> overlay(new Overlay(NoController{}));
  overlay->MakeDirectory("canopy-replicated-");
  overlay->nodes_controller_ = controllers;
  overlay->UseController(leader);
  return overlay;
}

void Overlay::UseController(const std::string& address) {
  controller_address_ = address;
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls_dir_) {
    const std::filesystem::path dir(*tls_dir_);
    absl::StatusOr<TlsPem> pem =
        LoadTlsFiles(TlsFiles{(dir / "ca.crt").string(), (dir / "operator-bench.crt").string(),
                              (dir / "operator-bench.key").string()});
    if (pem.ok()) credentials = TlsChannelCredentials(*pem);
  }
  stub_ = v1::Controller::NewStub(grpc::CreateChannel(address, credentials));
}

absl::Status Overlay::StartController(const std::string& listen) {
  std::vector<std::string> argv = {BinaryPath("canopy-controller"), "--listen", listen, "--store",
                                   (dir_ / "store.db").string()};
  argv.insert(argv.end(), controller_args_.begin(), controller_args_.end());
  for (std::string& flag : TlsFlags("controller")) argv.push_back(std::move(flag));
  absl::StatusOr<std::unique_ptr<Process>> controller = Process::Start(std::move(argv));
  if (!controller.ok()) return controller.status();
  controller_ = *std::move(controller);
  auto line = controller_->WaitForStdout("listening", kWait);
  if (!line) {
    return absl::UnavailableError("controller did not start: " + controller_->StderrTail());
  }
  UseController(ListeningField(*line, "grpc"));
  return absl::OkStatus();
}

void Overlay::StopController(int signal) {
  if (!controller_) return;
  controller_->Signal(signal);
  controller_->Wait(kWait);
  retired_logs_ += "--- controller (stopped)\n" + controller_->Stderr();
}

bool Overlay::StartControllerAgain() {
  absl::Status s = StartController(controller_address_);
  if (!s.ok()) ADD_FAILURE() << s.message();
  return s.ok();
}

bool Overlay::RestartController(int signal) {
  StopController(signal);
  return StartControllerAgain();
}

std::string Overlay::RestartNode(const std::string& id, bool await_listed) {
  KillNode(id);
  return StartNodeAgain(id, await_listed);
}

std::string Overlay::StartNodeAgain(const std::string& id, bool await_listed) {
  retired_logs_ += "--- " + id + " (before its restart)\n" + nodes_.at(id)->Stderr();
  absl::Status s = LaunchNode(
      id, {"--listen", clients_.at(id), "--data", data_.at(id), "--client-links", links_.at(id)},
      kWait);
  if (!s.ok()) {
    ADD_FAILURE() << "node " << id << " did not restart: " << s.message();
    return clients_.at(id);
  }
  if (await_listed && !AwaitNodeListed(id)) ADD_FAILURE() << "controller never listed " << id;
  return clients_.at(id);
}

absl::Status Overlay::LaunchNode(const std::string& id, const std::vector<std::string>& addresses,
                                 absl::Duration timeout) {
  std::vector<std::string> argv = {BinaryPath("canopy-node"), "--id", id, "--controller",
                                   nodes_controller_};
  argv.insert(argv.end(), addresses.begin(), addresses.end());
  const std::vector<std::string>& extra = node_args_.at(id);
  argv.insert(argv.end(), extra.begin(), extra.end());
  for (std::string& flag : TlsFlags("node-" + id)) argv.push_back(std::move(flag));
  absl::StatusOr<std::unique_ptr<Process>> node = Process::Start(std::move(argv));
  if (!node.ok()) return node.status();
  nodes_[id] = *std::move(node);
  if (timeout <= absl::ZeroDuration()) return absl::OkStatus();
  return AwaitListening(id, timeout);
}

absl::Status Overlay::AwaitListening(const std::string& id, absl::Duration timeout) {
  Process& node = *nodes_.at(id);
  std::optional<std::string> line = node.WaitForStdout("listening", timeout);
  if (!line) return absl::UnavailableError("node " + id + " did not start: " + node.StderrTail());
  clients_[id] = ListeningField(*line, "clients");
  data_[id] = ListeningField(*line, "data");
  links_[id] = ListeningField(*line, "links");
  metrics_[id] = ListeningField(*line, "metrics");
  return absl::OkStatus();
}

std::optional<std::set<std::string>> Overlay::ListedNodes() {
  grpc::ClientContext context;
  context.set_deadline(RpcDeadline());
  v1::ListNodesResponse response;
  if (!stub_->ListNodes(&context, {}, &response).ok()) return std::nullopt;
  std::set<std::string> ids;
  for (const auto& n : response.nodes()) ids.insert(n.node_id());
  return ids;
}

bool Overlay::AwaitNodeListed(const std::string& id, bool listed) {
  return PollUntil(
      [&] {
        const std::optional<std::set<std::string>> ids = ListedNodes();
        return ids && ids->contains(id) == listed;
      },
      kWait, kPoll);
}

void Overlay::KillNode(const std::string& id) {
  Process& node = *nodes_.at(id);
  node.Signal(SIGKILL);
  node.Wait(kWait);
}

std::string Overlay::WriteFile(const std::string& name, const std::string& text) {
  const std::filesystem::path path = dir_ / name;
  std::error_code ignored;
  std::filesystem::create_directories(path.parent_path(), ignored);
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    ADD_FAILURE() << "cannot write " << path;
    return path.string();
  }
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path.string();
}

Overlay::~Overlay() {
  for (auto& [id, node] : nodes_) node->Signal(SIGTERM);
  nodes_.clear();
  controller_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string Overlay::StartNode(const std::string& id, int max_fanout,
                               std::vector<std::string> extra_args) {
  extra_args.insert(extra_args.begin(), {"--max-fanout", std::to_string(max_fanout)});
  node_args_[id] = std::move(extra_args);
  absl::Status s = LaunchNode(id, {"--listen", "127.0.0.1:0", "--data", "127.0.0.1:0"}, kWait);
  if (!s.ok()) {
    ADD_FAILURE() << s.message();
    return "";
  }
  if (!AwaitNodeListed(id)) ADD_FAILURE() << "controller never listed node " << id;
  return clients_[id];
}

absl::Status Overlay::SpawnNode(const std::string& id, int max_fanout,
                                std::vector<std::string> extra_args) {
  extra_args.insert(extra_args.begin(), {"--max-fanout", std::to_string(max_fanout)});
  node_args_[id] = std::move(extra_args);
  return LaunchNode(id, {"--listen", "127.0.0.1:0", "--data", "127.0.0.1:0"}, absl::ZeroDuration());
}

absl::Status Overlay::AwaitNodes(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (auto& [id, node] : nodes_) {
    if (clients_.count(id)) continue;
    if (absl::Status s = AwaitListening(id, deadline - absl::Now()); !s.ok()) return s;
  }
  const bool all_listed = PollUntil(
      [&] {
        const std::optional<std::set<std::string>> ids = ListedNodes();
        if (!ids) return false;
        for (const auto& [id, node] : nodes_) {
          if (!ids->contains(id)) return false;
        }
        return true;
      },
      deadline - absl::Now(), kPoll);
  if (all_listed) return absl::OkStatus();
  return absl::DeadlineExceededError("the controller did not list every node in time");
}

bool Overlay::AllTablesApplied() {
  grpc::ClientContext context;
  context.set_deadline(RpcDeadline());
  v1::ListNodesResponse response;
  if (!stub_->ListNodes(&context, {}, &response).ok()) return false;
  for (const auto& n : response.nodes()) {
    if (n.table_version_applied() != n.table_version_sent()) return false;
  }
  return true;
}

absl::StatusOr<std::string> Overlay::AwaitFlow(const std::string& group, const std::string& source,
                                               const std::vector<std::string>& receivers,
                                               absl::Duration timeout) {
  const std::set<std::string> wanted(receivers.begin(), receivers.end());
  std::string last_seen = "(no tree)";
  const bool ready = PollUntil(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(RpcDeadline());
        v1::GetTreeRequest request;
        request.set_group(group);
        v1::GetTreeResponse response;
        if (!stub_->GetTree(&context, request, &response).ok()) return false;
        for (const auto& tree : response.trees()) {
          if (tree.source() != source) continue;
          std::vector<std::string> edges;
          for (const auto& e : tree.edges()) edges.push_back(e.parent() + "->" + e.child());
          last_seen = absl::StrCat("root ", tree.root(), " edges {", absl::StrJoin(edges, ", "),
                                   "} receivers {", absl::StrJoin(tree.receivers(), ", "), "}");
          const std::set<std::string> got(tree.receivers().begin(), tree.receivers().end());
          if (got == wanted && AllTablesApplied()) return true;
        }
        return false;
      },
      timeout, kPoll);
  if (ready) return last_seen;
  return absl::DeadlineExceededError(
      absl::StrCat("tree of ", group, "/", source, " not ready in time; last seen: ", last_seen));
}

std::vector<std::string> Overlay::node_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, node] : nodes_) ids.push_back(id);
  return ids;
}

std::unique_ptr<Process> Overlay::StartSubscriber(const std::string& node,
                                                  std::vector<std::string> extra_args) {
  std::vector<std::string> argv = {BinaryPath("canopy-sub"), "--node", clients_.at(node)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return std::make_unique<Process>(std::move(argv));
}

std::unique_ptr<Process> Overlay::StartPublisher(const std::string& node, const std::string& group,
                                                 const std::string& source) {
  return std::make_unique<Process>(std::vector<std::string>{
      BinaryPath("canopy-pub"), "--node", clients_.at(node), "--group", group, "--source", source});
}

bool Overlay::AwaitGroups(const std::function<bool(const v1::ListGroupsResponse&)>& done) {
  return PollUntil(
      [&] {
        grpc::ClientContext context;
        v1::ListGroupsResponse response;
        return stub_->ListGroups(&context, {}, &response).ok() && done(response);
      },
      kWait, kPoll);
}

std::string Overlay::Logs() const {
  std::string out = retired_logs_ + "--- controller\n" + (controller_ ? controller_->Stderr() : "");
  for (const auto& [id, node] : nodes_) out += "\n--- " + id + "\n" + node->Stderr();
  return out;
}

bool Overlay::AwaitTree(const std::string& group,
                        const std::function<bool(const v1::GetTreeResponse&)>& done,
                        v1::GetTreeResponse* last) {
  return PollUntil(
      [&] {
        grpc::ClientContext context;
        v1::GetTreeRequest request;
        request.set_group(group);
        v1::GetTreeResponse response;
        if (!stub_->GetTree(&context, request, &response).ok()) return false;
        if (last != nullptr) *last = response;
        return done(response);
      },
      kWait, kPoll);
}

bool Overlay::AwaitTablesApplied() {
  return PollUntil([this] { return AllTablesApplied(); }, kWait, kPoll);
}

absl::Status Overlay::SetAllowList(const std::string& group, std::vector<std::string> allowed) {
  grpc::ClientContext context;
  v1::GroupPolicy request, response;
  request.set_group(group);
  for (auto& s : allowed) request.add_allowed_sources(s);
  grpc::Status s = stub_->SetPolicy(&context, request, &response);
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace canopy::testing
