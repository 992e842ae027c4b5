#include "node/controller_session.h"

#include <utility>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/grpc_status.h"
#include "proto/server_kind.h"
#include "spdlog/spdlog.h"

namespace canopy::node {

ControllerSession::ControllerSession(ControllerSessionOptions options, ForwardingState& state,
                                     LocalClients& clients, std::function<void()> on_table_changed)
    : options_(std::move(options)),
      state_(state),
      clients_(clients),
      on_table_changed_(std::move(on_table_changed)),
      channel_(grpc::CreateChannel(options_.controller_address,
                                   options_.credentials != nullptr
                                       ? options_.credentials
                                       : grpc::InsecureChannelCredentials())),
      stub_(v1::Controller::NewStub(channel_)) {}

ControllerSession::~ControllerSession() { Stop(); }

void ControllerSession::Start() {
  stream_thread_ = std::thread([this] { RunStream(); });
  heartbeat_thread_ = std::thread([this] { RunHeartbeats(); });
}

void ControllerSession::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  if (stream_thread_.joinable()) stream_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

bool ControllerSession::connected() const {
  absl::MutexLock lock(&mu_);
  return stream_ != nullptr && hello_sent_;
}

bool ControllerSession::Write(const v1::NodeReport& report) {
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr || !hello_sent_) return false;
  return stream_->Write(report);
}

bool ControllerSession::ReportRtts(const v1::RttReport& rtts) {
  v1::NodeReport report;
  *report.mutable_rtts() = rtts;
  return Write(report);
}

bool ControllerSession::ReportMulticastPeers(const std::vector<std::string>& node_ids) {
  v1::NodeReport report;
  // Set even when empty: hearing nobody is news too (a LAN lost multicast).
  v1::MulticastPeers* peers = report.mutable_multicast_peers();
  for (const std::string& id : node_ids) peers->add_node_ids(id);
  return Write(report);
}

void ControllerSession::ReportLocalState() {
  // Hold the lock across both writes so snapshots go out in order.
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr || !hello_sent_) return;
  v1::NodeReport membership;
  *membership.mutable_membership() = clients_.NextMembershipReport();
  v1::NodeReport sources;
  *sources.mutable_sources() = clients_.SourceSnapshot();
  stream_->Write(membership) && stream_->Write(sources);
}

void ControllerSession::RunStream() {
  while (!stopping_.HasBeenNotified()) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::NodeReport, v1::NodeInstruction>> stream;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_.HasBeenNotified()) break;
      context_ = &context;
      state_.ResetVersion();
      stream = stub_->Attach(&context);
      stream_ = stream.get();
      v1::NodeReport hello;
      *hello.mutable_hello() = options_.hello;
      hello_sent_ = stream_->Write(hello);
    }
    ReportLocalState();
    bool announced = false;
    v1::NodeInstruction instruction;
    while (stream->Read(&instruction)) {
      if (!announced) {
        spdlog::info("attached to controller {}", options_.controller_address);
        announced = true;
        if (options_.on_attached) options_.on_attached(true);
      }
      Apply(instruction);
    }
    {
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
      context_ = nullptr;
      hello_sent_ = false;
    }
    if (announced && options_.on_attached) options_.on_attached(false);
    const absl::Status status =
        ExplainWrongServer(FromGrpc(stream->Finish()), channel_, options_.controller_address,
                           CanopyServer::kController);
    if (stopping_.HasBeenNotified()) break;
    spdlog::warn(
        "controller {} stream ended ({}); forwarding with the last table, "
        "reconnecting",
        options_.controller_address,
        status.message().empty() ? "closed" : std::string(status.message()));
    stopping_.WaitForNotificationWithTimeout(options_.reconnect_delay);
  }
}

void ControllerSession::RunHeartbeats() {
  absl::Time next_refresh = absl::Now() + options_.refresh_interval;
  while (!stopping_.WaitForNotificationWithTimeout(options_.heartbeat_interval)) {
    v1::NodeReport report;
    report.mutable_heartbeat()->set_table_version(state_.version());
    Write(report);
    clients_.ExpireLingeringSources();
    if (absl::Now() >= next_refresh) {
      ReportLocalState();
      next_refresh = absl::Now() + options_.refresh_interval;
    }
  }
}

void ControllerSession::Apply(const v1::NodeInstruction& instruction) {
  switch (instruction.body_case()) {
    case v1::NodeInstruction::kTable:
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
}

}  // namespace canopy::node
