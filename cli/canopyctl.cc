// canopyctl: inspect and steer a Canopy controller.
//
//   canopyctl --controller HOST:PORT nodes [--format text|json]
//   canopyctl --controller HOST:PORT groups [--format text|json]
//   canopyctl --controller HOST:PORT tree GROUP [--source S] [--format text|json]
//   canopyctl --controller HOST:PORT policy get GROUP
//   canopyctl --controller HOST:PORT policy set GROUP --allow S,...
//
// Exit codes: 0 success, 1 the controller refused or is unreachable (one
// line on stderr), 2 bad command line.

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "cli/tree_text.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "proto/program.h"

namespace {

using canopy::v1::Controller;

constexpr auto kRpcTimeout = std::chrono::seconds(5);

int RpcFailed(const grpc::Status& s) {
  std::fprintf(stderr, "canopyctl: %s\n",
               s.error_code() == grpc::StatusCode::UNAVAILABLE
                   ? ("controller unreachable: " + s.error_message()).c_str()
                   : s.error_message().c_str());
  return 1;
}

void PrintJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  std::fputs(json.c_str(), stdout);
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"canopyctl: inspect and steer a Canopy controller"};
  app.require_subcommand(1);
  std::string controller = "127.0.0.1:7600";
  std::string format = "text";
  app.add_option("--controller", controller, "controller gRPC address HOST:PORT")
      ->capture_default_str();
  auto add_format = [&](CLI::App* sub) {
    sub->add_option("--format", format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
  };

  CLI::App* nodes = app.add_subcommand("nodes", "list attached nodes");
  add_format(nodes);
  CLI::App* groups = app.add_subcommand("groups", "list groups with members, sources, policy");
  add_format(groups);
  CLI::App* tree = app.add_subcommand("tree", "show the trees of a group");
  std::string group, source;
  tree->add_option("GROUP", group, "group name")->required();
  tree->add_option("--source", source, "only this source's tree");
  add_format(tree);
  CLI::App* policy = app.add_subcommand("policy", "read or change a group's policy");
  policy->require_subcommand(1);
  CLI::App* policy_get = policy->add_subcommand("get", "print a group's policy");
  policy_get->add_option("GROUP", group, "group name")->required();
  CLI::App* policy_set = policy->add_subcommand("set", "replace a group's policy");
  policy_set->add_option("GROUP", group, "group name")->required();
  std::vector<std::string> allow;
  policy_set->add_option("--allow", allow, "sources allowed to publish (none = anyone)")
      ->delimiter(',');

  if (auto exit_code = canopy::ParseCommandLine(app, "canopyctl", argc, argv)) return *exit_code;

  auto stub =
      Controller::NewStub(grpc::CreateChannel(controller, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  Deadline(context);

  if (nodes->parsed()) {
    canopy::v1::ListNodesResponse response;
    grpc::Status s = stub->ListNodes(&context, {}, &response);
    if (!s.ok()) return RpcFailed(s);
    if (format == "json") {
      PrintJson(response);
      return 0;
    }
    std::printf("%-16s %-22s %-22s %-7s %s\n", "NODE", "DATA", "CLIENTS", "FANOUT", "GROUPS");
    for (const auto& n : response.nodes()) {
      std::printf("%-16s %-22s %-22s %-7s %s\n", n.node_id().c_str(), n.data_address().c_str(),
                  n.client_address().c_str(),
                  n.max_fanout() == 0 ? "-" : std::to_string(n.max_fanout()).c_str(),
                  absl::StrJoin(n.groups(), ",").c_str());
    }
    return 0;
  }
  if (groups->parsed()) {
    canopy::v1::ListGroupsResponse response;
    grpc::Status s = stub->ListGroups(&context, {}, &response);
    if (!s.ok()) return RpcFailed(s);
    if (format == "json") {
      PrintJson(response);
      return 0;
    }
    std::printf("%-20s %-7s %-30s %-30s %s\n", "GROUP", "HANDLE", "MEMBER NODES", "SOURCES@NODE",
                "ALLOWED");
    for (const auto& g : response.groups()) {
      std::vector<std::string> sources;
      for (const auto& at : g.sources()) sources.push_back(at.source() + "@" + at.node_id());
      std::printf(
          "%-20s %-7u %-30s %-30s %s\n", g.group().c_str(), g.group_handle(),
          absl::StrJoin(g.member_nodes(), ",").c_str(), absl::StrJoin(sources, ",").c_str(),
          g.allowed_sources().empty() ? "anyone" : absl::StrJoin(g.allowed_sources(), ",").c_str());
    }
    return 0;
  }
  if (tree->parsed()) {
    canopy::v1::GetTreeRequest request;
    request.set_group(group);
    request.set_source(source);
    canopy::v1::GetTreeResponse response;
    grpc::Status s = stub->GetTree(&context, request, &response);
    if (!s.ok()) return RpcFailed(s);
    if (format == "json") {
      PrintJson(response);
    } else {
      std::fputs(canopy::cli::RenderTreeText(response).c_str(), stdout);
    }
    return 0;
  }
  if (policy_get->parsed()) {
    canopy::v1::GetPolicyRequest request;
    request.set_group(group);
    canopy::v1::GroupPolicy response;
    grpc::Status s = stub->GetPolicy(&context, request, &response);
    if (!s.ok()) return RpcFailed(s);
    PrintJson(response);
    return 0;
  }
  if (policy_set->parsed()) {
    canopy::v1::GroupPolicy request;
    request.set_group(group);
    for (const std::string& a : allow) request.add_allowed_sources(a);
    canopy::v1::GroupPolicy response;
    grpc::Status s = stub->SetPolicy(&context, request, &response);
    if (!s.ok()) return RpcFailed(s);
    PrintJson(response);
    return 0;
  }
  return 2;
}
