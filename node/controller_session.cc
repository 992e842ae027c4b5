#include "node/controller_session.h"

#include <algorithm>
#include <random>
#include <string_view>
#include <utility>

#include "base/grpc_status.h"
#include "base/leader_redirect.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/server_kind.h"
#include "spdlog/spdlog.h"

namespace canopy::node {

ControllerSession::ControllerSession(ControllerSessionOptions options, ForwardingState& state,
                                     LocalClients& clients, std::function<void()> on_table_changed)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      on_table_changed_(std::move(on_table_changed)) {}

ControllerSession::Connection& ControllerSession::ConnectionTo(const std::string& address) {
  Connection& c = connections_[address];
  if (c.stub == nullptr) {
    c.channel = grpc::CreateChannel(address, options_.credentials != nullptr
                                                 ? options_.credentials
                                                 : grpc::InsecureChannelCredentials());
    c.stub = v1::Controller::NewStub(c.channel);
  }
  return c;
}

ControllerSession::~ControllerSession() { Stop(); }

void ControllerSession::Start(v1::NodeHello hello) {
  hello_ = std::move(hello);
  stream_thread_ = std::thread([this] { RunStream(); });
  writer_thread_ = std::thread([this] { RunWriter(); });
}

void ControllerSession::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  if (stream_thread_.joinable()) stream_thread_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
}

bool ControllerSession::connected() const {
  absl::MutexLock lock(&mu_);
  return stream_ != nullptr && hello_sent_;
}

uint64_t ControllerSession::leader_term() const {
  absl::MutexLock lock(&mu_);
  return leader_term_;
}

uint64_t ControllerSession::stale_tables() const {
  absl::MutexLock lock(&mu_);
  return stale_tables_;
}

bool ControllerSession::Write(const v1::NodeReport& report) {
  absl::MutexLock writing(&write_mu_);
  grpc::ClientReaderWriter<v1::NodeReport, v1::NodeInstruction>* stream;
  {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr || !hello_sent_) return false;
    stream = stream_;
  }
  // The stream cannot go away while write_mu_ is held (RunStream takes it
  // before dropping the stream).
  return stream->Write(report);
}

bool ControllerSession::ReportRtts(const v1::RttReport& rtts) {
  absl::MutexLock lock(&mu_);
  rtts_due_ = rtts;
  return stream_ != nullptr && hello_sent_;
}

bool ControllerSession::ReportMulticastPeers(const std::vector<std::string>& node_ids) {
  absl::MutexLock lock(&mu_);
  // Set even when empty: hearing nobody is news too (a LAN lost multicast).
  v1::MulticastPeers peers;
  for (const std::string& id : node_ids) peers.add_node_ids(id);
  peers_due_ = std::move(peers);
  return stream_ != nullptr && hello_sent_;
}

void ControllerSession::ReportLocalState() {
  absl::MutexLock lock(&mu_);
  local_state_due_ = true;
}

void ControllerSession::RunStream() {
  std::mt19937_64 random(std::random_device{}());
  absl::Duration backoff = options_.reconnect_initial;
  ControllerAddresses addresses(options_.controller_addresses);
  // Logged once per change: reachable ↔ not.
  bool reported_unreachable = false;
  // A follower answered since the last wait: the control plane lives and
  // an election is under way, so the next wait does not grow.
  bool follower_answered = false;
  while (!stopping_.HasBeenNotified()) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::NodeReport, v1::NodeInstruction>> stream;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_.HasBeenNotified()) break;
      context_ = &context;  // Stop() cancels it, ending any wait below
    }
    const std::string controller = addresses.current();
    state_.ResetVersion();
    Connection& connection = ConnectionTo(controller);
    stream = connection.stub->Attach(&context);
    {
      absl::MutexLock lock(&mu_);
      stream_ = stream.get();
      hello_sent_ = false;
      last_heard_ = absl::Now();
    }
    v1::NodeReport hello;
    *hello.mutable_hello() = hello_;
    bool hello_sent;
    {
      absl::MutexLock writing(&write_mu_);
      hello_sent = stream->Write(hello);
    }
    {
      absl::MutexLock lock(&mu_);
      hello_sent_ = hello_sent;
      local_state_due_ = true;  // soft state goes again on every new stream
    }
    bool announced = false;
    bool deposed = false;
    v1::NodeInstruction instruction;
    while (stream->Read(&instruction)) {
      {
        absl::MutexLock lock(&mu_);
        last_heard_ = absl::Now();
      }
      if (!announced) {
        spdlog::info("attached to controller {}", controller);
        announced = true;
        reported_unreachable = false;
        backoff = options_.reconnect_initial;
        addresses.Succeeded();
        if (options_.on_attached) options_.on_attached(true);
      }
      if (!Apply(instruction)) {
        deposed = true;
        context.TryCancel();
        break;
      }
    }
    // The call is over (the controller finished it or the connection
    // broke), so a write still in progress fails now too.
    {
      absl::MutexLock writing(&write_mu_);
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
      context_ = nullptr;
      hello_sent_ = false;
    }
    if (announced && options_.on_attached) options_.on_attached(false);
    const grpc::Status finished = stream->Finish();
    if (stopping_.HasBeenNotified()) break;
    const std::optional<std::string> leader = RedirectedTo(context, finished);
    if (RefusedByFollower(context)) follower_answered = true;
    const bool round_left = addresses.Advance(leader);
    if (leader) {
      spdlog::info("controller {} is a follower; following the leader at {}", controller, *leader);
      continue;  // at once
    }
    const absl::Status status = ExplainWrongServer(FromGrpc(finished), connection.channel,
                                                   controller, CanopyServer::kController);
    const std::string why = deposed                    ? "it no longer leads"
                            : status.message().empty() ? "closed"
                                                       : std::string(status.message());
    const uint64_t version = state_.version();
    const std::string forwarding = state_.Entries().empty() && version == 0
                                       ? std::string("no table yet")
                                       : "forwarding with the last table it sent";
    if (announced) {
      spdlog::warn("lost controller {} ({}); {}; reconnecting", controller, why, forwarding);
      reported_unreachable = true;
    } else if (!reported_unreachable && !round_left) {
      spdlog::warn("cannot reach controller {} ({}); {}; retrying every {} at most",
                   addresses.given(), why, forwarding,
                   absl::FormatDuration(options_.reconnect_max));
      reported_unreachable = true;
    }
    if (round_left && !announced) continue;  // the next given address at once
    // Full jitter: a random wait up to the backoff, so nodes that lost the
    // controller together do not come back together.
    const int64_t cap_us = std::max<int64_t>(1, absl::ToInt64Microseconds(backoff));
    const absl::Duration wait =
        absl::Microseconds(std::uniform_int_distribution<int64_t>(cap_us / 4, cap_us)(random));
    stopping_.WaitForNotificationWithTimeout(wait);
    backoff = follower_answered ? options_.reconnect_initial
                                : std::min(backoff * 2, options_.reconnect_max);
    follower_answered = false;
  }
}

void ControllerSession::RunWriter() {
  // Wakes often enough to pass on local changes promptly; heartbeats and
  // refreshes go at their own intervals.
  constexpr absl::Duration kTick = absl::Milliseconds(20);
  absl::Time next_heartbeat = absl::Now();
  absl::Time next_refresh = absl::Now() + options_.refresh_interval;
  absl::Time next_traffic = absl::Now() + options_.traffic_interval;
  while (!stopping_.WaitForNotificationWithTimeout(kTick)) {
    const absl::Time now = absl::Now();
    bool local_state = false;
    std::optional<v1::RttReport> rtts;
    std::optional<v1::MulticastPeers> peers;
    {
      absl::MutexLock lock(&mu_);
      if (stream_ == nullptr || !hello_sent_) continue;
      if (now - last_heard_ > options_.controller_silence && context_ != nullptr) {
        spdlog::warn("controller silent for {}; attaching again",
                     absl::FormatDuration(now - last_heard_));
        last_heard_ = now;  // once per stream
        context_->TryCancel();
        continue;
      }
      if (now >= next_refresh) local_state_due_ = true;
      local_state = std::exchange(local_state_due_, false);
      rtts = std::exchange(rtts_due_, std::nullopt);
      peers = std::exchange(peers_due_, std::nullopt);
    }
    bool ok = true;
    if (local_state) {
      // Sources before membership: a controller that learns a node's
      // membership first may plan its table before it knows the flows the
      // node is the ingress of.
      v1::NodeReport membership;
      *membership.mutable_membership() = clients_.NextMembershipReport();
      v1::NodeReport sources;
      *sources.mutable_sources() = clients_.SourceSnapshot();
      ok = Write(sources) && Write(membership);
      next_refresh = now + options_.refresh_interval;
    }
    if (ok && rtts) {
      v1::NodeReport report;
      *report.mutable_rtts() = *std::move(rtts);
      ok = Write(report);
    }
    if (ok && peers) {
      v1::NodeReport report;
      *report.mutable_multicast_peers() = *std::move(peers);
      ok = Write(report);
    }
    if (ok && now >= next_heartbeat) {
      v1::NodeReport report;
      report.mutable_heartbeat()->set_table_version(state_.version());
      ok = Write(report);
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (ok && options_.traffic_report && now >= next_traffic) {
      v1::NodeReport report;
      *report.mutable_traffic() = options_.traffic_report();
      Write(report);
      next_traffic = now + options_.traffic_interval;
    }
    clients_.ExpireLingeringSources();
  }
}

bool ControllerSession::Apply(const v1::NodeInstruction& instruction) {
  // A term below the highest seen: a deposed leader still speaking.
  auto current_term = [this](uint64_t term, const char* what) {
    absl::MutexLock lock(&mu_);
    if (term < leader_term_) {
      spdlog::warn("ignored a {} of leader term {}: term {} leads now", what, term, leader_term_);
      if (std::string_view(what) == "table") ++stale_tables_;
      return false;
    }
    if (term > leader_term_ && leader_term_ != 0) {
      spdlog::info("new leader term {} (was {})", term, leader_term_);
    }
    leader_term_ = term;
    return true;
  };
  switch (instruction.body_case()) {
    case v1::NodeInstruction::kLeader:
      return current_term(instruction.leader().term(), "beat");
    case v1::NodeInstruction::kTable:
      if (!current_term(instruction.table().term(), "table")) return false;
      spdlog::debug("table v{}: {} flow(s)", instruction.table().version(),
                    instruction.table().flows_size());
      state_.ApplyTable(instruction.table(), absl::Now());
      on_table_changed_();
      break;
    case v1::NodeInstruction::kMembershipAck:
      clients_.Acknowledge(instruction.membership_ack().report_seq());
      break;
    case v1::NodeInstruction::kPolicies:
      state_.ApplyPolicies(instruction.policies());
      break;
    case v1::NodeInstruction::kSourceRejected:
      state_.RecordRejection(instruction.source_rejected());
      break;
    case v1::NodeInstruction::kProbePeers:
      if (options_.on_probe_peers) options_.on_probe_peers(instruction.probe_peers());
      break;
    case v1::NodeInstruction::BODY_NOT_SET:
      spdlog::warn("controller sent an empty instruction; ignored");
      break;
  }
  return true;
}

}  // namespace canopy::node
