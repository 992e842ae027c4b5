#include "tests/system/overlay.h"

#include <unistd.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "base/program.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace canopy::testing {

Overlay::Overlay(std::vector<std::string> controller_args, const std::string& links)
    : controller_args_(std::move(controller_args)) {
  static int counter = 0;
  dir_ = std::filesystem::temp_directory_path() /
         absl::StrCat("canopy-system-", getpid(), "-", counter++);
  std::filesystem::create_directories(dir_);
  if (!links.empty()) {
    controller_args_.push_back("--links");
    controller_args_.push_back(WriteFile("links.txt", links));
  }
  if (!StartController("127.0.0.1:0")) return;
  nodes_controller_ = controller_address_;
  UseController(controller_address_);
}

std::unique_ptr<Overlay> Overlay::OnReplicas(const std::string& controllers,
                                             const std::string& leader) {
  static int counter = 0;
  std::unique_ptr<Overlay> overlay(new Overlay(NoController{}));
  overlay->dir_ = std::filesystem::temp_directory_path() /
                  absl::StrCat("canopy-replicated-", getpid(), "-", counter++);
  std::filesystem::create_directories(overlay->dir_);
  overlay->nodes_controller_ = controllers;
  overlay->UseController(leader);
  return overlay;
}

void Overlay::UseController(const std::string& address) {
  controller_address_ = address;
  stub_ = v1::Controller::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

bool Overlay::StartController(const std::string& listen) {
  std::vector<std::string> argv = {BinaryPath("canopy-controller"), "--listen", listen, "--store",
                                   (dir_ / "store.db").string()};
  argv.insert(argv.end(), controller_args_.begin(), controller_args_.end());
  controller_ = std::make_unique<Process>(std::move(argv));
  auto line = controller_->WaitForStdout("listening", kWait);
  if (!line) {
    ADD_FAILURE() << "controller did not start: " << controller_->Stderr();
    return false;
  }
  controller_address_ = ListeningField(*line, "grpc");
  return true;
}

void Overlay::StopController(int signal) {
  if (!controller_) return;
  controller_->Signal(signal);
  controller_->Wait(kWait);
  retired_logs_ += "--- controller (stopped)\n" + controller_->Stderr();
}

bool Overlay::StartControllerAgain() { return StartController(controller_address_); }

bool Overlay::RestartController(int signal) {
  StopController(signal);
  return StartController(controller_address_);
}

std::string Overlay::RestartNode(const std::string& id, bool await_listed) {
  KillNode(id);
  return StartNodeAgain(id, await_listed);
}

std::string Overlay::StartNodeAgain(const std::string& id, bool await_listed) {
  retired_logs_ += "--- " + id + " (before its restart)\n" + nodes_.at(id)->Stderr();
  std::vector<std::string> argv = {BinaryPath("canopy-node"),
                                   "--id",
                                   id,
                                   "--controller",
                                   nodes_controller_,
                                   "--listen",
                                   clients_.at(id),
                                   "--data",
                                   data_.at(id),
                                   "--client-links",
                                   links_.at(id)};
  const std::vector<std::string>& extra = node_args_.at(id);
  argv.insert(argv.end(), extra.begin(), extra.end());
  nodes_[id] = std::make_unique<Process>(std::move(argv));
  if (!nodes_[id]->WaitForStdout("listening", kWait)) {
    ADD_FAILURE() << "node " << id << " did not restart: " << nodes_[id]->Stderr();
    return clients_.at(id);
  }
  if (await_listed && !AwaitNodeListed(id)) ADD_FAILURE() << "controller never listed " << id;
  return clients_.at(id);
}

bool Overlay::AwaitNodeListed(const std::string& id, bool listed) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListNodesResponse response;
    if (stub_->ListNodes(&context, {}, &response).ok()) {
      bool found = false;
      for (const auto& n : response.nodes()) found = found || n.node_id() == id;
      if (found == listed) return true;
    }
    absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
  }
  return false;
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
  std::vector<std::string> argv = {BinaryPath("canopy-node"),
                                   "--id",
                                   id,
                                   "--controller",
                                   nodes_controller_,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data",
                                   "127.0.0.1:0"};
  extra_args.insert(extra_args.begin(), {"--max-fanout", std::to_string(max_fanout)});
  node_args_[id] = extra_args;
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto node = std::make_unique<Process>(std::move(argv));
  auto line = node->WaitForStdout("listening", kWait);
  if (!line) {
    ADD_FAILURE() << "node " << id << " did not start: " << node->Stderr();
    return "";
  }
  clients_[id] = ListeningField(*line, "clients");
  data_[id] = ListeningField(*line, "data");
  links_[id] = ListeningField(*line, "links");
  metrics_[id] = ListeningField(*line, "metrics");
  nodes_[id] = std::move(node);
  if (!AwaitNodeListed(id)) ADD_FAILURE() << "controller never listed node " << id;
  return clients_[id];
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
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::ListGroupsResponse response;
    if (stub_->ListGroups(&context, {}, &response).ok() && done(response)) return true;
    absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
  }
  return false;
}

std::string Overlay::Logs() const {
  std::string out = retired_logs_ + "--- controller\n" + (controller_ ? controller_->Stderr() : "");
  for (const auto& [id, node] : nodes_) out += "\n--- " + id + "\n" + node->Stderr();
  return out;
}

bool Overlay::AwaitTree(const std::string& group,
                        const std::function<bool(const v1::GetTreeResponse&)>& done,
                        v1::GetTreeResponse* last) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::GetTreeRequest request;
    request.set_group(group);
    v1::GetTreeResponse response;
    if (stub_->GetTree(&context, request, &response).ok()) {
      if (last != nullptr) *last = response;
      if (done(response)) return true;
    }
    absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
  }
  return false;
}

bool Overlay::AwaitTablesApplied() {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::ListNodesResponse response;
    if (stub_->ListNodes(&context, {}, &response).ok()) {
      bool synced = true;
      for (const auto& n : response.nodes()) {
        synced = synced && n.table_version_applied() == n.table_version_sent();
      }
      if (synced) return true;
    }
    absl::SleepFor(absl::Milliseconds(20));  // poll interval, bounded by the deadline
  }
  return false;
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
