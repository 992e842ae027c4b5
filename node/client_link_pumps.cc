#include "node/client_link_pumps.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "wire/control_frames.h"
#include "wire/frame.h"

namespace canopy::node {
namespace {

// How long one wait for queued frames lasts before `stop` is asked again.
constexpr absl::Duration kPopTick = absl::Milliseconds(100);
// One gathered write carries at most this many frames / queued bytes.
constexpr size_t kBatchFrames = 64;
constexpr size_t kBatchBytes = 4u << 20;

}  // namespace

absl::Status PumpToSubscriberLink(SubscriberQueue& queue, wire::FrameSocket& link,
                                  const std::function<bool(const DeliveryItem&)>& on_event,
                                  const wire::StopRequested& stop) {
  // Source (name and ids) of the frames the link carried last; SOURCE
  // frames announce a change. `batch` keeps the frames alive while `parts`
  // views them.
  std::string current_source;
  uint32_t current_handle = 0, current_id = 0;
  std::vector<wire::FramePtr> source_frames;
  std::vector<absl::string_view> parts;
  while (true) {
    if (stop && stop()) return absl::CancelledError("subscriber left");
    std::vector<DeliveryItem> batch = queue.PopBatch(kPopTick, kBatchFrames, kBatchBytes);
    if (batch.empty()) {
      if (queue.closed()) return queue.closed_status();
      continue;
    }
    parts.clear();
    source_frames.clear();
    for (const DeliveryItem& item : batch) {
      if (item.frame == nullptr) {
        // An event: what was gathered before it goes out first.
        if (!parts.empty()) {
          if (absl::Status s = link.Write(parts, stop); !s.ok()) return s;
          parts.clear();
        }
        if (!on_event(item)) return absl::CancelledError("subscriber left");
        continue;
      }
      const wire::FrameHeader& h = item.frame->header();
      if (current_source != item.names->source || current_handle != h.group_handle ||
          current_id != h.source_id) {
        current_source = item.names->source;
        current_handle = h.group_handle;
        current_id = h.source_id;
        source_frames.push_back(wire::MakeSource(h.group_handle, h.source_id, current_source));
        parts.push_back(source_frames.back()->bytes());
      }
      parts.push_back(item.frame->bytes());
    }
    if (!parts.empty()) {
      if (absl::Status s = link.Write(parts, stop); !s.ok()) {
        return s.code() == absl::StatusCode::kCancelled ? s : absl::UnavailableError(s.message());
      }
    }
  }
}

absl::Status ReadSubscriberRequests(
    wire::FrameSocket& link,
    const std::function<void(uint32_t, uint32_t, uint64_t, uint64_t)>& resend,
    const wire::StopRequested& stop) {
  while (true) {
    absl::StatusOr<wire::FrameBuffer> bytes = link.Read(wire::kMaxControlPayload, stop);
    if (!bytes.ok()) return absl::IsOutOfRange(bytes.status()) ? absl::OkStatus() : bytes.status();
    absl::StatusOr<wire::FramePtr> frame =
        wire::Frame::Adopt(*std::move(bytes), wire::kMaxControlPayload);
    if (!frame.ok()) return frame.status();
    absl::StatusOr<wire::ResumeRequest> r = wire::ParseResume(**frame);
    if (!r.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a subscriber sends only RESUME: ", r.status().message()));
    }
    if (r->until == 0) {
      return absl::InvalidArgumentError("a subscriber's RESUME must name its last sequence");
    }
    resend(r->group_handle, r->source_id, r->after, r->until);
  }
}

absl::Status PumpFromPublisherLink(
    wire::FrameSocket& link, uint32_t max_payload,
    const std::function<absl::StatusOr<uint64_t>(wire::FrameBuffer)>& publish,
    const wire::StopRequested& stop, PublishTally& tally) {
  while (true) {
    absl::StatusOr<wire::FrameBuffer> bytes = link.Read(max_payload, stop);
    if (!bytes.ok()) {
      if (absl::IsOutOfRange(bytes.status())) return absl::OkStatus();  // half-closed
      return bytes.status();
    }
    const size_t payload = bytes->size() - wire::kHeaderSize;
    absl::StatusOr<uint64_t> sequence = publish(*std::move(bytes));
    if (!sequence.ok()) return sequence.status();
    if (tally.messages == 0) tally.first_sequence = *sequence;
    tally.last_sequence = *sequence;
    ++tally.messages;
    tally.bytes += payload;
  }
}

}  // namespace canopy::node
