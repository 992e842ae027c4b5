// canopyctl: inspect and steer a Canopy controller.
//
//   canopyctl --controller HOST:PORT nodes [--format text|json]
//   canopyctl --controller HOST:PORT groups [--format text|json]
//   canopyctl --controller HOST:PORT members GROUP [--format text|json]
//   canopyctl --controller HOST:PORT tree GROUP [--source S] [--rates] [--format text|json|dot]
//   canopyctl --controller HOST:PORT top [--limit N] [--format text|json]
//   canopyctl --controller HOST:PORT policy get GROUP [--format text|json]
//   canopyctl --controller HOST:PORT policy set GROUP [--allow S,...] [--profile latency|cost|bulk]
//                                                     [--ttl N] [--slow reliable|realtime]
//   canopyctl --controller HOST:PORT watch GROUP [--source S] [--rates] [--format text|json]
//   canopyctl --controller HOST:PORT stats [--format text|json]
//   canopyctl --controller HOST:PORT status [--format text|json]
//
// --controller takes several replicas, HOST:PORT,HOST:PORT,...: canopyctl
// follows a follower's redirect to the leader and tries the next address
// when one does not answer.
//
// With --tls-ca, --tls-cert and --tls-key canopyctl talks mutual TLS
// (README "TLS"): `policy set` needs an operator certificate, the other
// subcommands an operator or node certificate.
//
// This file only parses the command line and calls the controller; every
// rendering lives in render_text / render_dot / json, flag validation in
// policy_edit.
//
// Exit codes: 0 success (and `watch` interrupted by SIGINT/SIGTERM), 1 the
// controller refused, is unreachable or ended a watch (one line on stderr),
// 2 bad command line (one line on stderr), 3 `policy get` of a group with
// no stored policy (the defaults are printed).

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/address.h"
#include "base/grpc_status.h"
#include "base/leader_redirect.h"
#include "base/program.h"
#include "base/tls_credentials.h"
#include "canopy/v1/controller.grpc.pb.h"
#include "cli/json.h"
#include "cli/policy_edit.h"
#include "cli/render_dot.h"
#include "cli/render_rates.h"
#include "cli/render_text.h"
#include "grpcpp/create_channel.h"
#include "proto/server_kind.h"

namespace {

using canopy::cli::JsonStyle;
using canopy::v1::Controller;

constexpr auto kRpcTimeout = std::chrono::seconds(5);

// Everything the command line says.
struct Options {
  std::string controller = "127.0.0.1:7600";
  std::string format = "text";
  std::string group;
  std::string source;
  bool rates = false;
  uint32_t limit = 10;
  // Trouble markers in red (stdout is a terminal and NO_COLOR is unset).
  bool color = false;
  canopy::cli::PolicyFlags policy;
  canopy::TlsFlags tls;
  // The channel to the controller, once made.
  std::shared_ptr<grpc::Channel> channel;
};

std::string OneLine(std::string text) {
  return absl::StrReplaceAll(text, {{"\r", " "}, {"\n", " "}});
}

// Prints the one-line error for a failed RPC; returns the exit code 1.
// `from_follower`: a live controller replica refused it (no leader yet).
int RpcFailed(const grpc::Status& s, const Options& o, bool from_follower = false) {
  std::string line;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (from_follower) {
        line = absl::StrCat("UNAVAILABLE: ", s.error_message());
        break;
      }
      line = absl::StrCat("controller unreachable at ", o.controller, " (", s.error_message(), ")");
      // A controller that serves TLS closes plaintext connections at once.
      if (o.tls.files.ca.empty()) {
        absl::StrAppend(&line, "; if it serves TLS, give --tls-ca, --tls-cert and --tls-key");
      }
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      line = absl::StrCat("controller at ", o.controller, " did not answer within ",
                          kRpcTimeout.count(), " s");
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      line = canopy::ExplainWrongServer(canopy::FromGrpc(s), o.channel, o.controller,
                                        canopy::CanopyServer::kController)
                 .ToString();
      break;
    default:
      line = absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
                          ": ", s.error_message());
  }
  std::fprintf(stderr, "canopyctl: %s\n", OneLine(line).c_str());
  return 1;
}

// Prints a rendering to stdout (flushed); returns the exit code.
int Emit(const absl::StatusOr<std::string>& text);

// `text` as the terminal should show it (Options::color).
std::string Shown(const Options& o, const std::string& text) {
  return o.color ? canopy::cli::Highlight(text) : text;
}

int Emit(const absl::StatusOr<std::string>& text) {
  if (!text.ok()) {
    std::fprintf(stderr, "canopyctl: %s\n", OneLine(std::string(text.status().message())).c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  std::fflush(stdout);
  return 0;
}

// A context for a unary RPC: 5 s deadline.
std::unique_ptr<grpc::ClientContext> Unary() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
  return context;
}

// The controller replicas canopyctl was given, and a stub for each address
// it calls (given or redirected to).
class Controllers {
 public:
  Controllers(std::vector<std::string> given, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : addresses_(std::move(given)), credentials_(std::move(credentials)) {}

  // Calls `call(stub, context)` on the leader: follows a follower's
  // redirect, and tries the next given address when one is unreachable.
  // Returns the last call's status.
  template <typename Call>
  grpc::Status OnLeader(Call call) {
    while (true) {
      std::unique_ptr<grpc::ClientContext> context = Unary();
      grpc::Status s = call(Stub(), *context);
      const std::optional<std::string> leader = canopy::RedirectedTo(*context, s);
      refused_by_follower_ = !s.ok() && canopy::RefusedByFollower(*context);
      const bool retry = leader || s.error_code() == grpc::StatusCode::UNAVAILABLE;
      if (s.ok() || !retry) return s;
      if (!addresses_.Advance(leader) && !leader) return s;
    }
  }

  Controller::Stub& Stub() {
    std::unique_ptr<Controller::Stub>& stub = stubs_[addresses_.current()];
    if (stub == nullptr) {
      stub = Controller::NewStub(grpc::CreateChannel(addresses_.current(), credentials_));
    }
    return *stub;
  }
  canopy::ControllerAddresses& addresses() { return addresses_; }
  // Whether the last call OnLeader made was refused by a follower.
  bool refused_by_follower() const { return refused_by_follower_; }

 private:
  bool refused_by_follower_ = false;
  canopy::ControllerAddresses addresses_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::map<std::string, std::unique_ptr<Controller::Stub>> stubs_;
};

// Calls one unary RPC on the leader and prints its answer as JSON or with
// `text`.
template <typename Request, typename Response, typename Call, typename TextFn>
int Show(Controllers& controllers, const Options& o, const Request& request, Call call,
         TextFn text) {
  Response response;
  grpc::Status s = controllers.OnLeader([&](Controller::Stub& stub, grpc::ClientContext& c) {
    return call(stub, &c, request, &response);
  });
  if (!s.ok()) return RpcFailed(s, o, controllers.refused_by_follower());
  if (o.format == "json") return Emit(canopy::cli::ToJson(response, JsonStyle::kPretty));
  return Emit(Shown(o, text(response)));
}

// `policy get`: the stored policy, or the defaults with exit code 3 when
// none is stored (so scripts can tell).
int GetPolicy(Controllers& controllers, const Options& o) {
  canopy::v1::GetPolicyRequest request;
  request.set_group(o.group);
  request.set_stored_only(true);
  canopy::v1::GroupPolicy policy;
  grpc::Status s = controllers.OnLeader([&](Controller::Stub& stub, grpc::ClientContext& c) {
    return stub.GetPolicy(&c, request, &policy);
  });
  int code = 0;
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    std::fprintf(stderr, "canopyctl: no policy set for %s; defaults\n", o.group.c_str());
    policy.Clear();
    policy.set_group(o.group);
    code = 3;
  } else if (!s.ok()) {
    return RpcFailed(s, o, controllers.refused_by_follower());
  }
  const int emitted = o.format == "json" ? Emit(canopy::cli::ToJson(policy, JsonStyle::kPretty))
                                         : Emit(canopy::cli::RenderPolicyText(policy));
  return emitted != 0 ? emitted : code;
}

int SetPolicy(Controllers& controllers, const Options& o, const canopy::cli::PolicyEdit& edit) {
  canopy::v1::GetPolicyRequest get;
  get.set_group(o.group);
  canopy::v1::GroupPolicy policy;
  grpc::Status s = controllers.OnLeader([&](Controller::Stub& stub, grpc::ClientContext& c) {
    return stub.GetPolicy(&c, get, &policy);
  });
  if (!s.ok()) return RpcFailed(s, o, controllers.refused_by_follower());
  policy.set_group(o.group);
  canopy::cli::ApplyPolicyEdit(edit, policy);
  canopy::v1::GroupPolicy stored;
  s = controllers.OnLeader([&](Controller::Stub& stub, grpc::ClientContext& c) {
    return stub.SetPolicy(&c, policy, &stored);
  });
  if (!s.ok()) return RpcFailed(s, o, controllers.refused_by_follower());
  return Emit(canopy::cli::RenderPolicyText(stored));
}

// Streams tree changes until the stream ends (exit 1) or a shutdown signal
// arrives (exit 0). REQUIRES: `signals` blocked in every thread.
int Watch(Controllers& controllers, const Options& o, const sigset_t& signals) {
  absl::Mutex mu;
  grpc::ClientContext* context = nullptr;  // the stream's, while one is open
  bool finished = false, interrupted = false;
  std::thread waiter([&] {
    canopy::WaitForShutdownSignal(signals);
    absl::MutexLock lock(&mu);
    if (finished) return;
    interrupted = true;
    if (context != nullptr) context->TryCancel();
  });
  canopy::v1::GetTreeRequest request;
  request.set_group(o.group);
  request.set_source(o.source);
  request.set_traffic(o.rates);
  int update = 0;
  int code = 0;
  grpc::Status s;
  // Until a stream delivered something: follow redirects to the leader and
  // try the next replica when one is unreachable.
  while (true) {
    grpc::ClientContext stream_context;
    {
      absl::MutexLock lock(&mu);
      if (interrupted) break;
      context = &stream_context;
    }
    std::unique_ptr<grpc::ClientReader<canopy::v1::GetTreeResponse>> reader =
        controllers.Stub().WatchTree(&stream_context, request);
    canopy::v1::GetTreeResponse response;
    while (code == 0 && reader->Read(&response)) {
      ++update;
      const absl::Time now = absl::Now();
      if (o.format == "json") {
        code = Emit(canopy::cli::WatchJsonLine(now, update, response));
      } else {
        code = Emit(absl::StrCat(canopy::cli::RenderWatchHeader(now, o.group, update),
                                 Shown(o, canopy::cli::RenderTreeText(response))));
      }
      if (code != 0) stream_context.TryCancel();
    }
    s = reader->Finish();
    {
      absl::MutexLock lock(&mu);
      context = nullptr;
    }
    const std::optional<std::string> leader = canopy::RedirectedTo(stream_context, s);
    const bool retry = leader || s.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (update > 0 || s.ok() || !retry) break;
    if (!controllers.addresses().Advance(leader) && !leader) break;
  }
  {
    absl::MutexLock lock(&mu);
    finished = true;
  }
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if no signal came
  waiter.join();
  if (interrupted) return 0;
  if (code != 0) return code;
  if (s.ok()) {
    std::fprintf(stderr, "canopyctl: watch ended: the controller at %s closed the stream\n",
                 controllers.addresses().current().c_str());
    return 1;
  }
  return RpcFailed(s, o, controllers.refused_by_follower());
}

int BadCommandLine(const absl::Status& status) {
  std::fprintf(stderr, "canopyctl: %s (see --help)\n",
               OneLine(std::string(status.message())).c_str());
  return 2;
}

// After parsing: a subcommand (and a policy subcommand) must have been
// named, and nothing may be left over. Names what is wrong, else OK.
absl::Status CheckSubcommands(const CLI::App& app, const CLI::App& policy) {
  const std::vector<std::string> left = app.remaining();
  auto names = [](const CLI::App& parent) {
    std::string list;
    for (const CLI::App* sub : parent.get_subcommands({})) {
      absl::StrAppend(&list, list.empty() ? "" : ", ", sub->get_name());
    }
    return list;
  };
  if (app.get_subcommands().empty()) {
    if (left.empty()) return absl::InvalidArgumentError("a subcommand is required: " + names(app));
    return absl::InvalidArgumentError(
        absl::StrCat("unknown subcommand '", left.front(), "' (one of ", names(app), ")"));
  }
  if (policy.parsed() && policy.get_subcommands().empty()) {
    if (left.empty()) {
      return absl::InvalidArgumentError("policy needs a subcommand: " + names(policy));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown policy subcommand '", left.front(),
                                                   "' (one of ", names(policy), ")"));
  }
  if (!left.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", left.front(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"canopyctl: inspect and steer a Canopy controller"};
  // At most one; CheckSubcommands names a missing or unknown one.
  app.require_subcommand(0, 1);
  app.allow_extras();
  app.fallthrough();  // --controller may also follow the subcommand
  app.add_option("--controller", o.controller,
                 "controller gRPC address HOST:PORT, or several replicas' HOST:PORT,... (the "
                 "leader is found and followed)")
      ->capture_default_str();
  canopy::AddTlsFlags(app, o.tls, /*server=*/false);
  auto add_format = [&](CLI::App* sub, std::vector<std::string> formats) {
    sub->add_option("--format", o.format, "output format")
        ->check(CLI::IsMember(formats))
        ->capture_default_str();
  };
  auto add_group = [&](CLI::App* sub) {
    sub->add_option("GROUP", o.group, "group name")->required();
  };

  CLI::App* nodes = app.add_subcommand("nodes", "list attached nodes");
  add_format(nodes, {"text", "json"});
  CLI::App* groups = app.add_subcommand("groups", "list groups with members, sources, policy");
  add_format(groups, {"text", "json"});
  CLI::App* members = app.add_subcommand("members", "list a group's member nodes and filters");
  add_group(members);
  add_format(members, {"text", "json"});
  CLI::App* tree = app.add_subcommand("tree", "show the trees of a group");
  add_group(tree);
  tree->add_option("--source", o.source, "only this source's tree");
  tree->add_flag("--rates", o.rates,
                 "show each edge's throughput, lag, drops and repairs, and each receiver's "
                 "delivered sequence and rate");
  add_format(tree, {"text", "json", "dot"});
  CLI::App* top =
      app.add_subcommand("top", "list the busiest links and the slowest receivers of all groups");
  top->add_option("--limit", o.limit, "links and receivers listed")
      ->capture_default_str()
      ->check(canopy::IntegerIn<uint32_t>(1, 1000));
  add_format(top, {"text", "json"});
  CLI::App* policy = app.add_subcommand("policy", "read or change a group's policy");
  policy->require_subcommand(0, 1);
  CLI::App* policy_get = policy->add_subcommand("get", "print a group's policy");
  add_group(policy_get);
  add_format(policy_get, {"text", "json"});
  CLI::App* policy_set =
      policy->add_subcommand("set", "change a group's policy (only the given flags change)");
  add_group(policy_set);
  std::string allow, profile, ttl, slow;
  CLI::Option* allow_opt = policy_set->add_option(
      "--allow", allow, "sources allowed to publish, comma-separated ('' = anyone)");
  CLI::Option* profile_opt =
      policy_set->add_option("--profile", profile, "tree profile: latency, cost or bulk");
  CLI::Option* ttl_opt =
      policy_set->add_option("--ttl", ttl, "TTL of native multicast on a LAN, 1..255");
  CLI::Option* slow_opt =
      policy_set->add_option("--slow", slow, "slow receivers: reliable or realtime");
  CLI::App* watch = app.add_subcommand("watch", "print a group's trees on every change");
  add_group(watch);
  watch->add_option("--source", o.source, "only this source's tree");
  watch->add_flag("--rates", o.rates, "with live traffic as for tree --rates, sent every second");
  add_format(watch, {"text", "json"});
  CLI::App* stats = app.add_subcommand("stats", "print the controller's counters");
  add_format(stats, {"text", "json"});
  CLI::App* status = app.add_subcommand(
      "status", "print the leader, the replicas, the store in use and its health");
  add_format(status, {"text", "json"});

  if (auto exit_code = canopy::ParseCommandLine(app, "canopyctl", argc, argv)) return *exit_code;
  if (absl::Status s = CheckSubcommands(app, *policy); !s.ok()) return BadCommandLine(s);
  o.color = o.format == "text" && isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  absl::StatusOr<std::optional<canopy::TlsFiles>> tls = canopy::ResolveTlsFlags(o.tls);
  if (!tls.ok()) return BadCommandLine(tls.status());
  absl::StatusOr<std::vector<canopy::HostPort>> controller_list =
      canopy::ParseHostPortList(o.controller);
  if (!controller_list.ok()) return BadCommandLine(controller_list.status());

  canopy::cli::PolicyEdit edit;
  if (policy_set->parsed()) {
    if (allow_opt->count() > 0) o.policy.allow = allow;
    if (profile_opt->count() > 0) o.policy.profile = profile;
    if (ttl_opt->count() > 0) o.policy.ttl = ttl;
    if (slow_opt->count() > 0) o.policy.slow = slow;
    absl::StatusOr<canopy::cli::PolicyEdit> parsed = canopy::cli::ParsePolicyFlags(o.policy);
    if (!parsed.ok()) return BadCommandLine(parsed.status());
    edit = *std::move(parsed);
  }
  // Before gRPC starts any thread, so that only Watch's waiter sees them.
  sigset_t signals;
  if (watch->parsed()) signals = canopy::BlockShutdownSignals();

  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      canopy::ChannelCredentialsFor(*tls);
  if (!credentials.ok()) {
    std::fprintf(stderr, "canopyctl: %s\n",
                 OneLine(std::string(credentials.status().message())).c_str());
    return 1;
  }

  std::vector<std::string> given;
  for (const canopy::HostPort& c : *controller_list) given.push_back(c.ToString());
  // What a wrong kind of server is explained against (RpcFailed): the
  // first given address.
  o.channel = grpc::CreateChannel(given.front(), *credentials);
  Controllers controllers(std::move(given), *credentials);
  namespace v1 = canopy::v1;
  namespace cli = canopy::cli;
  using Ctx = grpc::ClientContext*;

  if (nodes->parsed()) {
    return Show<v1::ListNodesRequest, v1::ListNodesResponse>(
        controllers, o, {},
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) {
          return stub.ListNodes(c, rq, rs);
        },
        cli::RenderNodesText);
  }
  if (groups->parsed()) {
    return Show<v1::ListGroupsRequest, v1::ListGroupsResponse>(
        controllers, o, {},
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) {
          return stub.ListGroups(c, rq, rs);
        },
        cli::RenderGroupsText);
  }
  if (members->parsed()) {
    v1::ListMembersRequest request;
    request.set_group(o.group);
    return Show<v1::ListMembersRequest, v1::ListMembersResponse>(
        controllers, o, request,
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) {
          return stub.ListMembers(c, rq, rs);
        },
        cli::RenderMembersText);
  }
  if (tree->parsed()) {
    v1::GetTreeRequest request;
    request.set_group(o.group);
    request.set_source(o.source);
    request.set_traffic(o.rates);
    return Show<v1::GetTreeRequest, v1::GetTreeResponse>(
        controllers, o, request,
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) { return stub.GetTree(c, rq, rs); },
        o.format == "dot" ? cli::RenderTreeDot : cli::RenderTreeText);
  }
  if (top->parsed()) {
    v1::GetTopRequest request;
    request.set_limit(o.limit);
    return Show<v1::GetTopRequest, v1::TopResponse>(
        controllers, o, request,
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) { return stub.GetTop(c, rq, rs); },
        cli::RenderTopText);
  }
  if (policy_get->parsed()) return GetPolicy(controllers, o);
  if (policy_set->parsed()) return SetPolicy(controllers, o, edit);
  if (watch->parsed()) return Watch(controllers, o, signals);
  if (stats->parsed()) {
    return Show<v1::GetStatsRequest, v1::ControllerStats>(
        controllers, o, {},
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) { return stub.GetStats(c, rq, rs); },
        cli::RenderStatsText);
  }
  if (status->parsed()) {
    return Show<v1::GetStatusRequest, v1::ControllerStatus>(
        controllers, o, {},
        [&](Controller::Stub& stub, Ctx c, auto& rq, auto* rs) {
          return stub.GetStatus(c, rq, rs);
        },
        cli::RenderStatusText);
  }
  return 2;
}
