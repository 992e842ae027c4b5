#include "src/link_publisher.h"

#include <array>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "canopy/v1/node.grpc.pb.h"
#include "proto/address.h"
#include "src/link_offer.h"
#include "src/status_conversion.h"
#include "wire/frame.h"

namespace canopy {
namespace {

// The node restamps group handle, source id and sequence; the client
// numbers its frames only so a lost or repeated one would show.
class LinkPublisher final : public Publisher {
 public:
  LinkPublisher(std::shared_ptr<grpc::Channel> channel, std::string address)
      : channel_(std::move(channel)),
        stub_(v1::Node::NewStub(channel_)),
        address_(std::move(address)) {}

  ~LinkPublisher() override {
    if (finished_) return;
    context_.TryCancel();
    if (link_ != nullptr) link_->Shutdown();
    if (reader_ != nullptr) reader_->Finish();
  }

  absl::Status Start(const PublisherOptions& options, const HostPort& node,
                     const wire::ClientLinkTls& tls) {
    v1::PublishLinkRequest request;
    request.set_group(options.group);
    request.set_source(options.source);
    reader_ = stub_->PublishOverLink(&context_, request);
    v1::PublishLinkEvent event;
    if (!reader_->Read(&event)) return EndOfCall();
    if (!event.has_link_offer()) {
      return End(absl::InternalError("the node did not offer a client link"));
    }
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> link =
        ConnectOfferedLink(node, event.link_offer(), tls, options.transport);
    if (!link.ok()) return End(link.status());
    link_ = *std::move(link);
    max_payload_ = OfferedMaxPayload(event.link_offer());
    return absl::OkStatus();
  }

  absl::Status Send(absl::string_view payload) override {
    const absl::string_view parts[] = {payload};
    return SendGathered(parts);
  }

  absl::Status SendGathered(absl::Span<const absl::string_view> payload) override {
    if (finished_) {
      return final_status_.ok() ? absl::FailedPreconditionError("Send() after Finish()")
                                : final_status_;
    }
    size_t bytes = 0;
    for (absl::string_view part : payload) bytes += part.size();
    if (bytes > max_payload_) {
      // Refused here rather than by the node, which would end the stream.
      return absl::InvalidArgumentError(absl::StrCat("a message of ", bytes,
                                                     " bytes exceeds the node's limit of ",
                                                     max_payload_, " (canopy-node --max-payload)"));
    }
    std::array<char, wire::kHeaderSize> header;
    wire::EncodeHeader(wire::FrameType::kData, 0, 0, ++sequence_, payload, header.data());
    absl::InlinedVector<absl::string_view, 4> parts;
    parts.push_back(absl::string_view(header.data(), header.size()));
    parts.insert(parts.end(), payload.begin(), payload.end());
    absl::Status s = link_->Write(parts);
    if (s.ok()) return s;
    // The node closed the link: its reason is the call's status.
    return EndOfCall(s);
  }

  absl::StatusOr<PublishResult> Finish() override {
    if (finished_) {
      if (!final_status_.ok()) return final_status_;
      return result_;
    }
    link_->ShutdownWrite();
    v1::PublishLinkEvent event;
    while (reader_->Read(&event)) {
      if (event.has_summary()) {
        const v1::PublishSummary& s = event.summary();
        result_ = PublishResult{s.messages(), s.bytes(), s.first_sequence(), s.last_sequence()};
      }
    }
    absl::Status s = EndOfCall();
    if (!s.ok()) return s;
    return result_;
  }

 private:
  // Ends the call and returns its status; `link_error` stands in if the
  // call itself ended without one.
  absl::Status EndOfCall(absl::Status link_error = absl::OkStatus()) {
    if (link_ != nullptr) link_->Shutdown();
    v1::PublishLinkEvent unread;
    while (reader_->Read(&unread)) {
    }
    absl::Status status = NodeCallStatus(reader_->Finish(), channel_, address_);
    if (status.ok() && !link_error.ok()) status = link_error;
    finished_ = true;
    final_status_ = status;
    return status;
  }

  absl::Status End(absl::Status why) {
    context_.TryCancel();
    reader_->Finish();
    finished_ = true;
    final_status_ = why;
    return why;
  }

  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> stub_;
  const std::string address_;  // the node's, as the caller gave it
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::PublishLinkEvent>> reader_;
  std::unique_ptr<wire::ClientLink> link_;
  uint64_t sequence_ = 0;
  // The largest payload the node takes on this link (its offer).
  uint32_t max_payload_ = wire::kDefaultMaxPayload;
  bool finished_ = false;
  absl::Status final_status_;
  PublishResult result_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> OpenLinkPublisher(
    const PublisherOptions& options, std::shared_ptr<grpc::Channel> channel) {
  absl::StatusOr<HostPort> node = ParseHostPort(options.node_address);
  if (!node.ok()) return node.status();
  absl::StatusOr<wire::ClientLinkTls> tls = ClientLinkTlsFor(options.tls);
  if (!tls.ok()) return tls.status();
  auto publisher = std::make_unique<LinkPublisher>(std::move(channel), options.node_address);
  if (absl::Status s = publisher->Start(options, *node, *tls); !s.ok()) return s;
  return absl::StatusOr<std::unique_ptr<Publisher>>(std::move(publisher));
}

}  // namespace canopy
