#include "src/link_publisher.h"

#include <array>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/address.h"
#include "canopy/v1/node.grpc.pb.h"
#include "src/ack_board.h"
#include "src/link_offer.h"
#include "src/node_channel.h"
#include "wire/frame.h"

namespace canopy {
namespace {

// The node restamps group handle, source id and sequence; the client
// numbers its frames only so a lost or repeated one would show.
//
// Once the link is up a thread of its own reads the call's events to its
// end: acknowledgement totals as they come, the summary and the status at
// the end. So a refusal is known (Health) while the caller sends nothing,
// and the link is shut at once then.
//
// Thread-compatible like Publisher (AwaitAcknowledged aside); the events
// thread shares only the AckBoard and what mu_ guards.
class LinkPublisher final : public Publisher {
 public:
  LinkPublisher(std::shared_ptr<grpc::Channel> channel, std::string address)
      : channel_(std::move(channel)),
        stub_(v1::Node::NewStub(channel_)),
        address_(std::move(address)) {}

  ~LinkPublisher() override {
    if (events_.joinable()) {
      if (!finished_) context_.TryCancel();
      link_->Shutdown();
      events_.join();
      return;
    }
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
    if (!reader_->Read(&event)) {
      finished_ = true;
      final_status_ = NodeCallStatus(reader_->Finish(), channel_, address_);
      if (final_status_.ok()) final_status_ = absl::UnavailableError("the node ended the call");
      return final_status_;
    }
    if (!event.has_link_offer()) {
      return End(absl::InternalError("the node did not offer a client link"));
    }
    absl::StatusOr<std::unique_ptr<wire::ClientLink>> link =
        ConnectOfferedLink(node, event.link_offer(), tls, options.transport);
    if (!link.ok()) return End(link.status());
    link_ = *std::move(link);
    max_payload_ = OfferedMaxPayload(event.link_offer());
    events_ = std::thread([this] { ReadEvents(); });
    return absl::OkStatus();
  }

  absl::Status Health() override {
    absl::MutexLock lock(&mu_);
    if (!call_ended_) return absl::OkStatus();
    if (!call_status_.ok()) return call_status_;
    return absl::UnavailableError("the node ended the publish call");
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
    // A refusal the events thread saw already ends the stream before this write.
    if (absl::Status health = Health(); !health.ok()) return EndOfCall(health);
    absl::Status s = link_->Write(parts);
    if (s.ok()) return s;
    // The node closed the link: its reason is the call's status.
    return EndOfCall(s);
  }

  absl::StatusOr<DeliveryAcks> AwaitAcknowledged(uint64_t object_id, uint32_t receivers,
                                                 absl::Time deadline) override {
    return acks_.Await(object_id, receivers, deadline);
  }

  absl::StatusOr<PublishResult> Finish() override {
    if (finished_) {
      if (!final_status_.ok()) return final_status_;
      absl::MutexLock lock(&mu_);
      return result_;
    }
    link_->ShutdownWrite();
    absl::Status s = EndOfCall();
    if (!s.ok()) return s;
    absl::MutexLock lock(&mu_);
    return result_;
  }

 private:
  // On `events_`: reads the call's events until it ends, records its
  // status and, on an error, shuts the link so writes fail at once.
  void ReadEvents() {
    v1::PublishLinkEvent event;
    while (reader_->Read(&event)) {
      if (event.has_acks()) {
        acks_.Update(event.acks());
      } else if (event.has_summary()) {
        const v1::PublishSummary& s = event.summary();
        absl::MutexLock lock(&mu_);
        result_ = PublishResult{s.messages(), s.bytes(), s.first_sequence(), s.last_sequence()};
      }
    }
    absl::Status status = NodeCallStatus(reader_->Finish(), channel_, address_);
    if (!status.ok()) link_->Shutdown();
    acks_.End(status);
    absl::MutexLock lock(&mu_);
    call_status_ = std::move(status);
    call_ended_ = true;
  }

  // Waits for the end of the call and returns its status; `link_error`
  // stands in if the call itself ended without one.
  absl::Status EndOfCall(absl::Status link_error = absl::OkStatus()) {
    if (!link_error.ok()) link_->Shutdown();
    events_.join();
    link_->Shutdown();
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      status = call_status_;
    }
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
  AckBoard acks_;
  // The caller's thread only.
  bool finished_ = false;
  absl::Status final_status_;
  std::thread events_;  // runs ReadEvents() from Start() to EndOfCall()
  absl::Mutex mu_;
  bool call_ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status call_status_ ABSL_GUARDED_BY(mu_);
  PublishResult result_ ABSL_GUARDED_BY(mu_);
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
