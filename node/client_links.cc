#include "node/client_links.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "wire/ack_frames.h"
#include "wire/control_frames.h"

namespace canopy::node {
namespace asio = boost::asio;

namespace {
// One gathered write carries at most this many frames / queued bytes.
constexpr size_t kBatchFrames = 64;
constexpr size_t kBatchBytes = 4u << 20;
}  // namespace

SubscriberLink::SubscriberLink(std::shared_ptr<wire::Connection> connection,
                               std::shared_ptr<SubscriberQueue> queue, EventSink on_event,
                               Resend resend, Ended on_end, Acknowledge acknowledge)
    : connection_(std::move(connection)),
      queue_(std::move(queue)),
      on_event_(std::move(on_event)),
      resend_(std::move(resend)),
      acknowledge_(std::move(acknowledge)),
      on_end_(std::move(on_end)) {}

void SubscriberLink::Start() {
  auto self = shared_from_this();
  asio::post(connection_->executor(), [self] {
    self->ReadRequests();
    self->Pump();
  });
}

void SubscriberLink::Stop() {
  auto self = shared_from_this();
  asio::post(connection_->executor(),
             [self] { self->End(absl::CancelledError("the subscriber left")); });
}

void SubscriberLink::End(absl::Status status) {
  if (ended_) return;
  ended_ = true;
  connection_->Close();
  if (on_end_) std::exchange(on_end_, nullptr)(status);
}

void SubscriberLink::Pump() {
  while (!ended_) {
    if (pending_.empty()) {
      for (DeliveryItem& item : queue_->PopBatch(absl::ZeroDuration(), kBatchFrames, kBatchBytes)) {
        pending_.push_back(std::move(item));
      }
    }
    if (pending_.empty()) {
      if (queue_->closed()) return End(queue_->closed_status());
      auto self = shared_from_this();
      queue_->NotifyWhenNonEmpty(
          [self] { asio::post(self->connection_->executor(), [self] { self->Pump(); }); });
      return;
    }
    if (pending_.front().frame == nullptr) {
      // An event, in its place among the frames.
      const DeliveryItem event = std::move(pending_.front());
      pending_.pop_front();
      if (!on_event_(event)) return End(absl::CancelledError("the subscriber left"));
      continue;
    }
    // The frames up to the next event go out in one gathered write, with a
    // SOURCE frame before each run of another source's frames.
    auto frames = std::make_shared<std::vector<wire::FramePtr>>();
    std::vector<asio::const_buffer> buffers;
    while (!pending_.empty() && pending_.front().frame != nullptr) {
      const DeliveryItem item = std::move(pending_.front());
      pending_.pop_front();
      const wire::FrameHeader& h = item.frame->header();
      if (current_source_ != item.names->source || current_handle_ != h.group_handle ||
          current_id_ != h.source_id) {
        current_source_ = item.names->source;
        current_handle_ = h.group_handle;
        current_id_ = h.source_id;
        frames->push_back(wire::MakeSource(h.group_handle, h.source_id, current_source_));
        buffers.emplace_back(frames->back()->bytes().data(), frames->back()->bytes().size());
      }
      frames->push_back(item.frame);
      buffers.emplace_back(item.frame->bytes().data(), item.frame->bytes().size());
    }
    connection_->Write(std::move(buffers), frames, [self = shared_from_this()](absl::Status s) {
      if (!s.ok()) return self->End(s);
      self->Pump();
    });
    return;
  }
}

void SubscriberLink::ReadRequests() {
  auto self = shared_from_this();
  connection_->ReadFrame(wire::kMaxControlPayload, [self](absl::StatusOr<wire::FrameBuffer> bytes,
                                                          wire::FrameHeader) {
    if (!bytes.ok()) {
      // The subscriber's clean end is the end of the subscription.
      return self->End(absl::IsOutOfRange(bytes.status()) ? absl::CancelledError("subscriber left")
                                                          : bytes.status());
    }
    absl::StatusOr<wire::FramePtr> frame =
        wire::Frame::Adopt(*std::move(bytes), wire::kMaxControlPayload);
    if (!frame.ok()) return self->End(frame.status());
    if ((*frame)->header().type == wire::FrameType::kAck && self->acknowledge_) {
      absl::StatusOr<uint64_t> object = wire::ParseAck(**frame);
      absl::Status taken = object.ok() ? self->acknowledge_((*frame)->header().group_handle,
                                                            (*frame)->header().source_id, *object)
                                       : object.status();
      if (!taken.ok()) return self->End(taken);
      return self->ReadRequests();
    }
    absl::StatusOr<wire::ResumeRequest> r = wire::ParseResume(**frame);
    if (!r.ok()) {
      return self->End(absl::InvalidArgumentError(
          absl::StrCat("a subscriber sends only RESUME and ACK: ", r.status().message())));
    }
    if (r->until == 0) {
      return self->End(
          absl::InvalidArgumentError("a subscriber's RESUME must name its last sequence"));
    }
    self->resend_(r->group_handle, r->source_id, r->after, r->until);
    self->ReadRequests();
  });
}

PublisherLink::PublisherLink(std::shared_ptr<wire::Connection> connection, uint32_t max_payload,
                             Publish publish, Ended on_end)
    : connection_(std::move(connection)),
      max_payload_(max_payload),
      publish_(std::move(publish)),
      on_end_(std::move(on_end)) {}

void PublisherLink::Start() {
  auto self = shared_from_this();
  asio::post(connection_->executor(), [self] { self->ReadNext(); });
}

void PublisherLink::Stop(absl::Status why) {
  auto self = shared_from_this();
  asio::post(connection_->executor(), [self, why = std::move(why)] { self->End(why); });
}

void PublisherLink::End(absl::Status status) {
  if (ended_) return;
  ended_ = true;
  if (!status.ok()) connection_->Close();
  if (on_end_) std::exchange(on_end_, nullptr)(status, tally_);
}

void PublisherLink::ReadNext() {
  if (ended_) return;
  auto self = shared_from_this();
  connection_->ReadFrame(
      max_payload_, [self](absl::StatusOr<wire::FrameBuffer> bytes, wire::FrameHeader) {
        if (self->ended_) return;
        if (!bytes.ok()) {
          // The publisher's half-close after its last frame is the clean end.
          return self->End(absl::IsOutOfRange(bytes.status()) ? absl::OkStatus() : bytes.status());
        }
        const size_t payload = bytes->size() - wire::kHeaderSize;
        absl::StatusOr<uint64_t> sequence = self->publish_(*std::move(bytes), [self] {
          asio::post(self->connection_->executor(), [self] { self->ReadNext(); });
        });
        if (!sequence.ok()) return self->End(sequence.status());
        if (self->tally_.messages == 0) self->tally_.first_sequence = *sequence;
        self->tally_.last_sequence = *sequence;
        ++self->tally_.messages;
        self->tally_.bytes += payload;
      });
}

}  // namespace canopy::node
