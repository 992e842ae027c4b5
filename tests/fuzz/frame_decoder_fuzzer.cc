// libFuzzer target for the frame decoder of docs/wire-format.md.
//
// The input is what one link would receive: a byte stream that is cut into
// frames exactly as wire::InboundLink does it — a 32-byte header, decoded
// with DecodeHeader, then `length` payload bytes, the whole frame validated
// by Frame::Adopt. Every result is checked against invariants that must hold
// for any input; a violation is reported with __builtin_trap() so libFuzzer
// records the input as a crash. Memory errors, leaks and undefined behaviour
// are found by ASan, LSan and UBSan (see tests/fuzz/CMakeLists.txt).
//
// Built with clang only; see tests/fuzz/run_fuzzer.sh for how it runs.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "wire/ack_frames.h"
#include "wire/control_frames.h"
#include "wire/frame.h"

namespace {

using canopy::wire::AckSummary;
using canopy::wire::DecodeHeader;
using canopy::wire::Frame;
using canopy::wire::FrameChecksum;
using canopy::wire::FrameHeader;
using canopy::wire::FramePtr;
using canopy::wire::FrameType;
using canopy::wire::GapNotice;
using canopy::wire::IsControl;
using canopy::wire::kDefaultMaxPayload;
using canopy::wire::kHeaderSize;
using canopy::wire::kMaxAckNames;
using canopy::wire::kMaxAckSummaryPayload;
using canopy::wire::kMaxControlPayload;
using canopy::wire::MakeAck;
using canopy::wire::MakeAckSummary;
using canopy::wire::MakeGap;
using canopy::wire::ParseAck;
using canopy::wire::ParseAckSummary;
using canopy::wire::MakeResume;
using canopy::wire::ParseGap;
using canopy::wire::ParsePong;
using canopy::wire::ParseResume;
using canopy::wire::ResumeRequest;

// Limits the decoder is exercised with: the node default, the HELLO limit an
// InboundLink applies to its first frame, and an empty-payload-only limit.
constexpr uint32_t kHelloLimit = 256;
constexpr uint32_t kLimits[] = {kDefaultMaxPayload, kHelloLimit, 0};

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

bool SameHeader(const FrameHeader& a, const FrameHeader& b) {
  return a.type == b.type && a.group_handle == b.group_handle && a.source_id == b.source_id &&
         a.length == b.length && a.sequence == b.sequence && a.checksum == b.checksum;
}

void StoreBigU64(char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// Checks what must hold of any frame Adopt accepted from `bytes`.
void CheckAdopted(const FramePtr& frame, absl::string_view bytes, const FrameHeader& decoded) {
  FUZZ_CHECK(frame != nullptr);
  const FrameHeader& h = frame->header();
  FUZZ_CHECK(SameHeader(h, decoded));
  FUZZ_CHECK(h.type >= FrameType::kHello && h.type <= FrameType::kAckSummary);
  FUZZ_CHECK(!IsControl(h.type) || h.length <= kMaxControlPayload);
  FUZZ_CHECK(h.type != FrameType::kAckSummary || h.length <= kMaxAckSummaryPayload);
  FUZZ_CHECK(frame->bytes() == bytes);
  // The control-frame parsers accept or refuse, never crash, and what they
  // accept is well formed.
  if (absl::StatusOr<ResumeRequest> r = ParseResume(*frame); r.ok()) {
    FUZZ_CHECK(h.type == FrameType::kResume);
    FUZZ_CHECK(r->until == 0 || r->until > r->after);
    FUZZ_CHECK(MakeResume(*r)->bytes() == bytes);
  }
  if (absl::StatusOr<GapNotice> g = ParseGap(*frame); g.ok()) {
    FUZZ_CHECK(h.type == FrameType::kGap);
    FUZZ_CHECK(g->first > 0 && g->next > g->first);
    FUZZ_CHECK(MakeGap(*g)->bytes() == bytes);
  }
  if (absl::StatusOr<uint64_t> p = ParsePong(*frame); p.ok())
    FUZZ_CHECK(h.type == FrameType::kPong);
  if (absl::StatusOr<std::string> s = canopy::wire::ParseSource(*frame); s.ok()) {
    FUZZ_CHECK(h.type == FrameType::kSource && !s->empty() && *s == frame->payload());
  }
  if (absl::StatusOr<uint64_t> a = ParseAck(*frame); a.ok()) {
    FUZZ_CHECK(h.type == FrameType::kAck && *a != 0);
    FUZZ_CHECK(MakeAck(h.group_handle, h.source_id, *a)->payload() == frame->payload());
  }
  if (absl::StatusOr<AckSummary> a = ParseAckSummary(*frame); a.ok()) {
    FUZZ_CHECK(h.type == FrameType::kAckSummary);
    FUZZ_CHECK(a->acked <= a->receivers && a->names.size() <= kMaxAckNames &&
               a->missing >= a->names.size());
    FUZZ_CHECK(MakeAckSummary(h.group_handle, h.source_id, *a)->payload() == frame->payload());
  }
  FUZZ_CHECK(frame->payload().size() == h.length);
  FUZZ_CHECK(frame->bytes().size() == kHeaderSize + h.length);
  FUZZ_CHECK(FrameChecksum(frame->bytes(), frame->payload()) == h.checksum);

  // Re-encoding the decoded fields gives back the very same bytes.
  FramePtr again = Frame::Make(h.type, h.group_handle, h.source_id, h.sequence, frame->payload());
  FUZZ_CHECK(again != nullptr);
  FUZZ_CHECK(again->bytes() == bytes);
  FUZZ_CHECK(SameHeader(again->header(), h));

  // And what Make produces decodes to the same fields under every limit that
  // admits its length.
  for (uint32_t limit : kLimits) {
    absl::StatusOr<FrameHeader> back = DecodeHeader(again->bytes(), limit);
    FUZZ_CHECK(back.ok() == (h.length <= limit));
    if (back.ok()) FUZZ_CHECK(SameHeader(*back, h));
  }
}

// Runs Restamp (what a node does to a local publisher's frame) on one
// complete frame: it succeeds exactly for an intact DATA frame, and then
// yields a frame with the new identity that Adopt accepts, carrying the same
// payload.
void RestampWholeFrame(absl::string_view bytes, const FrameHeader& h, bool checksum_ok) {
  constexpr uint32_t kHandle = 7, kSource = 9;
  constexpr uint64_t kSequence = 1234;
  absl::StatusOr<FramePtr> r = Frame::Restamp(canopy::wire::FrameBuffer::CopyOf(bytes),
                                              kDefaultMaxPayload, kHandle, kSource, kSequence);
  FUZZ_CHECK(r.ok() == (checksum_ok && h.type == FrameType::kData));
  if (!r.ok()) {
    FUZZ_CHECK(!r.status().message().empty());
    return;
  }
  const FrameHeader& n = (*r)->header();
  FUZZ_CHECK(n.type == FrameType::kData && n.group_handle == kHandle && n.source_id == kSource &&
             n.sequence == kSequence && n.length == h.length);
  FUZZ_CHECK((*r)->payload() == bytes.substr(kHeaderSize));
  absl::StatusOr<FramePtr> again = Frame::Adopt((*r)->bytes(), kDefaultMaxPayload);
  FUZZ_CHECK(again.ok() && SameHeader((*again)->header(), n));
}

// Runs Adopt on one complete frame (header + exactly `length` payload bytes)
// whose header decoded as `h` under the default limit.
void AdoptWholeFrame(absl::string_view bytes, const FrameHeader& h) {
  const bool checksum_ok = FrameChecksum(bytes, bytes.substr(kHeaderSize)) == h.checksum;
  for (uint32_t limit : kLimits) {
    absl::StatusOr<FramePtr> frame = Frame::Adopt(bytes, limit);
    if (h.length > limit) {
      FUZZ_CHECK(!frame.ok());
      FUZZ_CHECK(frame.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    FUZZ_CHECK(frame.ok() == checksum_ok);
    if (frame.ok()) {
      CheckAdopted(*frame, bytes, h);
    } else {
      FUZZ_CHECK(frame.status().code() == absl::StatusCode::kDataLoss);
      FUZZ_CHECK(!frame.status().message().empty());
    }
  }
  RestampWholeFrame(bytes, h, checksum_ok);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view stream(reinterpret_cast<const char*>(data), size);

  while (!stream.empty()) {
    if (stream.size() < kHeaderSize) {
      // The link reads exactly kHeaderSize bytes before decoding, so a short
      // tail is never given to DecodeHeader (its REQUIRES); as a whole frame
      // it must be refused.
      absl::StatusOr<FramePtr> frame = Frame::Adopt(std::string(stream), kDefaultMaxPayload);
      FUZZ_CHECK(!frame.ok());
      FUZZ_CHECK(frame.status().code() == absl::StatusCode::kInvalidArgument);
      return 0;
    }
    const absl::string_view header = stream.substr(0, kHeaderSize);

    // The header alone, under each limit; the limits must agree.
    absl::StatusOr<FrameHeader> h = DecodeHeader(header, kDefaultMaxPayload);
    for (uint32_t limit : kLimits) {
      absl::StatusOr<FrameHeader> other = DecodeHeader(header, limit);
      if (!h.ok()) {
        FUZZ_CHECK(!other.ok());
        FUZZ_CHECK(other.status().code() == absl::StatusCode::kInvalidArgument);
        FUZZ_CHECK(!other.status().message().empty());
      } else {
        FUZZ_CHECK(other.ok() == (h->length <= limit));
        if (other.ok()) FUZZ_CHECK(SameHeader(*other, *h));
        if (!other.ok()) FUZZ_CHECK(other.status().code() == absl::StatusCode::kInvalidArgument);
      }
    }
    if (!h.ok()) {
      // Framing is lost; a link closes here. Adopt must refuse it as well.
      absl::StatusOr<FramePtr> frame = Frame::Adopt(std::string(stream), kDefaultMaxPayload);
      FUZZ_CHECK(!frame.ok());
      return 0;
    }
    FUZZ_CHECK(h->type >= FrameType::kHello && h->type <= FrameType::kAckSummary);
    FUZZ_CHECK(h->length <= kDefaultMaxPayload);
    FUZZ_CHECK(!IsControl(h->type) || h->length <= kMaxControlPayload);

    const size_t available = stream.size() - kHeaderSize;
    if (available < h->length) {
      // Truncated payload (the link would see EOF): Adopt must refuse both
      // what arrived and what arrived padded short of the length.
      absl::StatusOr<FramePtr> frame = Frame::Adopt(std::string(stream), kDefaultMaxPayload);
      FUZZ_CHECK(!frame.ok());
      FUZZ_CHECK(frame.status().code() == absl::StatusCode::kInvalidArgument);
      return 0;
    }

    const absl::string_view bytes = stream.substr(0, kHeaderSize + h->length);
    AdoptWholeFrame(bytes, *h);

    // Random mutations almost never produce a matching XXH3-64, so also run
    // the same frame with its checksum repaired: this drives arbitrary
    // headers and payloads through the accepting path.
    std::string repaired(bytes);
    StoreBigU64(repaired.data() + 24, FrameChecksum(repaired, bytes.substr(kHeaderSize)));
    absl::StatusOr<FrameHeader> rh = DecodeHeader(repaired, kDefaultMaxPayload);
    FUZZ_CHECK(rh.ok());
    absl::StatusOr<FramePtr> frame = Frame::Adopt(repaired, kDefaultMaxPayload);
    FUZZ_CHECK(frame.ok());
    CheckAdopted(*frame, repaired, *rh);

    // A frame with trailing bytes is not a frame.
    if (stream.size() > bytes.size()) {
      absl::StatusOr<FramePtr> longer =
          Frame::Adopt(std::string(stream.substr(0, bytes.size() + 1)), kDefaultMaxPayload);
      FUZZ_CHECK(!longer.ok());
    }

    stream.remove_prefix(bytes.size());
  }
  return 0;
}
