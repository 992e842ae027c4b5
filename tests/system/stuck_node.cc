#include "tests/system/stuck_node.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace canopy::testing {

StuckNode::StuckNode(const std::string& controller, const std::string& id, int groups)
    : id_(id), groups_(groups) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  stub_ = v1::Controller::NewStub(
      grpc::CreateCustomChannel(controller, grpc::InsecureChannelCredentials(), args));
  stream_ = stub_->Attach(&context_);
  v1::NodeReport hello;
  hello.mutable_hello()->set_node_id(id_);
  hello.mutable_hello()->set_data_address("127.0.0.1:9");
  hello.mutable_hello()->set_client_address("127.0.0.1:9");
  stream_->Write(hello);
  writer_ = std::thread([this] { Run(); });
}

StuckNode::~StuckNode() {
  done_ = true;
  context_.TryCancel();
  writer_.join();
}

void StuckNode::Run() {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (int round = 0; round < 600 && !done_ && absl::Now() < deadline; ++round) {
    v1::NodeReport membership, sources;
    membership.mutable_membership()->set_report_seq(round + 1);
    for (int g = 0; g < groups_ - (round % 2); ++g) {
      const std::string group = absl::StrCat(id_, "/", g);
      v1::GroupMembership* m = membership.mutable_membership()->add_groups();
      m->set_group(group);
      m->mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
      v1::SourceKey* k = sources.mutable_sources()->add_sources();
      k->set_group(group);
      k->set_source("s");
    }
    v1::NodeReport heartbeat;
    heartbeat.mutable_heartbeat();
    if (!stream_->Write(membership) || !stream_->Write(sources) || !stream_->Write(heartbeat)) {
      dropped_ = true;
      return;
    }
    absl::SleepFor(absl::Milliseconds(100));  // the report cadence, not a wait for an event
  }
}

}  // namespace canopy::testing
