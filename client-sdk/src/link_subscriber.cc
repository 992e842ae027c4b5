#include "src/link_subscriber.h"

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/address.h"
#include "canopy/v1/node.grpc.pb.h"
#include "src/delivery_queue.h"
#include "src/link_offer.h"
#include "src/node_channel.h"
#include "src/subscribe_request.h"
#include "wire/ack_frames.h"
#include "wire/control_frames.h"

namespace canopy {
namespace {

// Messages arrive as frames on a client link, read by a data thread
// straight into each message's payload; the gRPC stream (read by a control
// thread) carries the offer, the joined event and the final status.
class LinkSubscriber final : public Subscriber {
 public:
  LinkSubscriber(const SubscriberOptions& options, HostPort node, wire::ClientLinkTls tls,
                 std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)),
        stub_(v1::Node::NewStub(channel_)),
        address_(options.node_address),
        node_(std::move(node)),
        tls_(std::move(tls)),
        transport_(options.transport),
        queue_(options.group, options.on_source_status) {
    reader_ = stub_->Subscribe(&context_, MakeSubscribeRequest(options, /*frame_link=*/true));
    control_thread_ = std::thread([this] { ControlLoop(); });
  }

  ~LinkSubscriber() override {
    Cancel();
    queue_.Close();
    control_thread_.join();
  }

  absl::Status WaitJoined(absl::Duration timeout) override { return queue_.WaitJoined(timeout); }
  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) override {
    return queue_.Next(timeout);
  }
  void Cancel() override {
    cancelled_ = true;
    if (acknowledged_) {
      // The node reads the link to its end before it ends the subscription,
      // so the last acknowledgements are not lost to the cancellation of the
      // call racing them; bounded, a node that does not close is cancelled.
      absl::MutexLock lock(&link_mu_);
      if (link_ != nullptr && !link_ended_) {
        link_->ShutdownWrite();
        auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(link_mu_) { return link_ended_; };
        link_mu_.AwaitWithTimeout(absl::Condition(&ended), kLeaveGrace);
      }
    }
    context_.TryCancel();
    absl::MutexLock lock(&link_mu_);
    if (link_ != nullptr) link_->Shutdown();  // ends a blocked read
  }

  absl::Status RequestResend(const std::string& source, uint64_t first, uint64_t last) override {
    if (first == 0 || last < first) return absl::InvalidArgumentError("empty resend range");
    wire::FramePtr resume;
    wire::ClientLink* link = nullptr;
    {
      absl::MutexLock lock(&link_mu_);
      auto ids = ids_.find(source);
      if (ids == ids_.end() || link_ == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("no message of source ", source, " has arrived yet"));
      }
      resume = wire::MakeResume({ids->second.first, ids->second.second, first - 1, last});
      link = link_.get();
    }
    queue_.ExpectResend(source, first, last);
    // Writing while the data thread reads is safe; writers take turns.
    absl::MutexLock writing(&write_mu_);
    const absl::string_view parts[] = {resume->bytes()};
    return link->Write(parts);
  }

  absl::Status Acknowledge(const std::string& source, uint64_t object_id) override {
    if (object_id == 0) return absl::InvalidArgumentError("object id 0");
    wire::FramePtr ack;
    wire::ClientLink* link = nullptr;
    {
      absl::MutexLock lock(&link_mu_);
      auto ids = ids_.find(source);
      if (ids == ids_.end() || link_ == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("no message of source ", source, " has arrived yet"));
      }
      ack = wire::MakeAck(ids->second.first, ids->second.second, object_id);
      link = link_.get();
    }
    absl::MutexLock writing(&write_mu_);
    const absl::string_view parts[] = {ack->bytes()};
    absl::Status written = link->Write(parts);
    if (written.ok()) acknowledged_ = true;
    return written;
  }

 private:
  void ControlLoop() {
    std::thread data_thread;
    absl::Status link_status;  // written by the data thread, read after join
    v1::Delivery d;
    while (reader_->Read(&d)) {
      if (d.has_link_offer() && !data_thread.joinable()) {
        absl::StatusOr<std::unique_ptr<wire::ClientLink>> link =
            ConnectOfferedLink(node_, d.link_offer(), tls_, transport_);
        if (!link.ok()) {
          link_status = link.status();
          break;
        }
        wire::ClientLink* socket;
        {
          absl::MutexLock lock(&link_mu_);
          link_ = *std::move(link);
          socket = link_.get();
          if (cancelled_) link_->Shutdown();
        }
        const uint32_t max_payload = OfferedMaxPayload(d.link_offer());
        data_thread = std::thread([this, socket, max_payload, &link_status] {
          link_status = ReadLink(*socket, max_payload);
          {
            absl::MutexLock lock(&link_mu_);
            link_ended_ = true;
          }
          if (!absl::IsOutOfRange(link_status)) context_.TryCancel();
        });
      } else if (d.has_joined()) {
        queue_.MarkJoined();
      } else if (d.has_status()) {
        queue_.Status({d.status().source(), d.status().reachable(), d.status().reason()});
      }
    }
    const bool had_link = data_thread.joinable();
    // Leaving the loop early (the link could not be opened) ends the call;
    // a call the node ended keeps its status.
    if (!link_status.ok() && !had_link) context_.TryCancel();
    if (had_link) data_thread.join();
    absl::Status call_status = NodeCallStatus(reader_->Finish(), channel_, address_);
    // A protocol error seen on the link explains the end better than the
    // cancellation it caused.
    const bool link_failed =
        !link_status.ok() && !absl::IsOutOfRange(link_status) && !absl::IsCancelled(link_status);
    if (link_failed && (call_status.ok() || absl::IsCancelled(call_status)) && !cancelled_) {
      queue_.End(link_status);
    } else if (!had_link && call_status.ok()) {
      queue_.End(absl::InternalError("the node ended the call without offering a link"));
    } else {
      queue_.End(call_status);
    }
  }

  // Reads frames until the link ends: OutOfRange at the node's clean close.
  // A frame announcing more than `max_payload` bytes ends the link before
  // anything is allocated for it (InvalidArgument).
  absl::Status ReadLink(wire::ClientLink& link, uint32_t max_payload) {
    std::string source;
    while (true) {
      std::string payload;
      absl::StatusOr<wire::FrameHeader> h = link.ReadInto(payload, max_payload);
      if (!h.ok() && cancelled_) return absl::CancelledError("subscription cancelled");
      if (absl::IsInvalidArgument(h.status())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the node at ", node_.ToString(), " sent a bad frame: ", h.status().message()));
      }
      if (!h.ok()) return h.status();
      if (h->type == wire::FrameType::kSource) {
        source = std::move(payload);
        if (source.empty()) return absl::InternalError("the node sent an empty SOURCE frame");
        absl::MutexLock lock(&link_mu_);
        ids_[source] = {h->group_handle, h->source_id};
      } else if (h->type == wire::FrameType::kData) {
        if (source.empty()) return absl::InternalError("the node sent DATA before SOURCE");
        if (!queue_.Push(source, h->sequence, std::move(payload))) {
          return absl::CancelledError("closed");
        }
      } else {
        return absl::InternalError(
            absl::StrCat("the node sent an unexpected frame of type ", static_cast<int>(h->type)));
      }
    }
  }

  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> stub_;
  const std::string address_;  // as the caller gave it
  const HostPort node_;
  const wire::ClientLinkTls tls_;
  const Transport transport_;
  grpc::ClientContext context_;
  DeliveryQueue queue_;
  std::unique_ptr<grpc::ClientReader<v1::Delivery>> reader_;
  std::atomic<bool> cancelled_{false};
  // An ACK was written: Cancel() then half-closes the link and waits (at
  // most kLeaveGrace) for the node to close it.
  std::atomic<bool> acknowledged_{false};
  static constexpr absl::Duration kLeaveGrace = absl::Seconds(1);
  // The link, once connected (writes: RequestResend; reads: the data
  // thread), and each source's flow ids from its SOURCE frames.
  absl::Mutex link_mu_;
  absl::Mutex write_mu_;
  std::unique_ptr<wire::ClientLink> link_ ABSL_GUARDED_BY(link_mu_);
  bool link_ended_ ABSL_GUARDED_BY(link_mu_) = false;  // the data thread read its end
  std::map<std::string, std::pair<uint32_t, uint32_t>> ids_ ABSL_GUARDED_BY(link_mu_);
  std::thread control_thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Subscriber>> OpenLinkSubscriber(
    const SubscriberOptions& options, std::shared_ptr<grpc::Channel> channel) {
  absl::StatusOr<HostPort> node = ParseHostPort(options.node_address);
  if (!node.ok()) return node.status();
  absl::StatusOr<wire::ClientLinkTls> tls = ClientLinkTlsFor(options.tls);
  if (!tls.ok()) return tls.status();
  return std::unique_ptr<Subscriber>(
      std::make_unique<LinkSubscriber>(options, *node, *std::move(tls), std::move(channel)));
}

}  // namespace canopy
