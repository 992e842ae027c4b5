#include "canopy/publisher.h"

#include "base/address.h"
#include "canopy/v1/node.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "proto/validation.h"
#include "src/link_publisher.h"
#include "src/node_channel.h"

namespace canopy {
namespace {

class GrpcPublisher final : public Publisher {
 public:
  GrpcPublisher(const PublisherOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), channel_(std::move(channel)), stub_(v1::Node::NewStub(channel_)) {
    writer_ = stub_->Publish(&context_, &summary_);
  }

  // Dropped without Finish(): abandon the stream (messages not yet accepted
  // may be lost, as documented on Finish()).
  ~GrpcPublisher() override {
    if (finished_) return;
    context_.TryCancel();
    writer_->Finish();
  }

  bool Announce() {
    v1::Publication opening;
    opening.set_group(options_.group);
    opening.set_source(options_.source);
    opening.set_announce(true);
    return writer_->Write(opening);
  }

  absl::Status Send(absl::string_view payload) override {
    if (broken_) return absl::UnavailableError("publish stream already ended");
    v1::Publication p;
    p.set_payload(std::string(payload));
    if (writer_->Write(p)) return absl::OkStatus();
    broken_ = true;
    grpc::Status status = writer_->Finish();
    finished_ = true;
    final_status_ = NodeCallStatus(status, channel_, options_.node_address);
    if (final_status_.ok()) final_status_ = absl::UnavailableError("node closed the stream");
    return final_status_;
  }

  absl::Status SendGathered(absl::Span<const absl::string_view> parts) override {
    std::string joined;
    for (absl::string_view p : parts) joined.append(p.data(), p.size());
    return Send(joined);
  }

  absl::StatusOr<PublishResult> Finish() override {
    if (!finished_) {
      writer_->WritesDone();
      final_status_ = NodeCallStatus(writer_->Finish(), channel_, options_.node_address);
      finished_ = true;
    }
    if (!final_status_.ok()) return final_status_;
    return PublishResult{summary_.messages(), summary_.bytes(), summary_.first_sequence(),
                         summary_.last_sequence()};
  }

 private:
  const PublisherOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> stub_;
  grpc::ClientContext context_;
  v1::PublishSummary summary_;
  std::unique_ptr<grpc::ClientWriter<v1::Publication>> writer_;
  bool broken_ = false;
  bool finished_ = false;
  absl::Status final_status_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Open(PublisherOptions options) {
  if (auto a = ParseHostPort(options.node_address); !a.ok()) return a.status();
  if (absl::Status s = ValidateGroupName(options.group); !s.ok()) return s;
  if (absl::Status s = ValidateSourceId(options.source); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateNodeChannel(options.node_address, options.tls);
  if (!channel.ok()) return channel.status();
  if (options.transport != Transport::kGrpcStream) {
    return OpenLinkPublisher(options, *std::move(channel));
  }
  auto publisher = std::make_unique<GrpcPublisher>(options, *std::move(channel));
  // If the announcement cannot be written the stream broke at once; the
  // first Send() or Finish() reports why.
  publisher->Announce();
  return absl::StatusOr<std::unique_ptr<Publisher>>(std::move(publisher));
}

}  // namespace canopy
