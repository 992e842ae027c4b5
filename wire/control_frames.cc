#include "wire/control_frames.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"

namespace canopy::wire {
namespace {

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  boost::endian::store_big_u64(reinterpret_cast<unsigned char*>(out.data()), v);
  return out;
}

absl::StatusOr<uint64_t> PayloadU64(const Frame& frame, const char* what) {
  if (frame.payload().size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " frame payload of ", frame.payload().size(), " bytes, want 8"));
  }
  return boost::endian::load_big_u64(
      reinterpret_cast<const unsigned char*>(frame.payload().data()));
}

}  // namespace

FramePtr MakeHello(absl::string_view node_id, absl::string_view token) {
  return Frame::Make(FrameType::kHello, 0, 0, 0,
                     token.empty() ? std::string(node_id) : absl::StrCat(node_id, " ", token));
}

absl::StatusOr<Hello> ParseHello(const Frame& frame) {
  if (frame.header().type != FrameType::kHello) return absl::InvalidArgumentError("not a HELLO frame");
  absl::string_view id = frame.payload();
  Hello hello;
  if (const size_t space = id.find(' '); space != absl::string_view::npos) {
    hello.token = std::string(id.substr(space + 1));
    id = id.substr(0, space);
    if (hello.token.empty()) return absl::InvalidArgumentError("HELLO with an empty link token");
  }
  hello.probe = absl::EndsWith(id, kProbeHelloSuffix);
  if (hello.probe) id.remove_suffix(kProbeHelloSuffix.size());
  if (id.empty()) return absl::InvalidArgumentError("HELLO without a node id");
  hello.node_id = std::string(id);
  return hello;
}

FramePtr MakeResume(const ResumeRequest& request) {
  return Frame::Make(FrameType::kResume, request.group_handle, request.source_id, request.after,
                     BigEndian64(request.until));
}

FramePtr MakeGap(const GapNotice& gap) {
  return Frame::Make(FrameType::kGap, gap.group_handle, gap.source_id, gap.first,
                     BigEndian64(gap.next));
}

FramePtr MakePing(uint64_t sent_at_ns) {
  return Frame::Make(FrameType::kPing, 0, 0, 0, BigEndian64(sent_at_ns));
}

FramePtr MakePong(const Frame& ping) {
  return Frame::Make(FrameType::kPong, 0, 0, 0, ping.payload());
}

FramePtr MakeSource(uint32_t group_handle, uint32_t source_id, absl::string_view source) {
  return Frame::Make(FrameType::kSource, group_handle, source_id, 0, source);
}

absl::StatusOr<ResumeRequest> ParseResume(const Frame& frame) {
  if (frame.header().type != FrameType::kResume) {
    return absl::InvalidArgumentError("not a RESUME frame");
  }
  absl::StatusOr<uint64_t> until = PayloadU64(frame, "RESUME");
  if (!until.ok()) return until.status();
  ResumeRequest r{frame.header().group_handle, frame.header().source_id, frame.header().sequence,
                  *until};
  if (r.until != 0 && r.until <= r.after) {
    return absl::InvalidArgumentError(
        absl::StrCat("RESUME after ", r.after, " until ", r.until, " asks for nothing"));
  }
  return r;
}

absl::StatusOr<GapNotice> ParseGap(const Frame& frame) {
  if (frame.header().type != FrameType::kGap) return absl::InvalidArgumentError("not a GAP frame");
  absl::StatusOr<uint64_t> next = PayloadU64(frame, "GAP");
  if (!next.ok()) return next.status();
  GapNotice g{frame.header().group_handle, frame.header().source_id, frame.header().sequence,
              *next};
  if (g.first == 0 || g.next <= g.first) {
    return absl::InvalidArgumentError(
        absl::StrCat("GAP [", g.first, ", ", g.next, ") is empty or starts at 0"));
  }
  return g;
}

absl::StatusOr<uint64_t> ParsePong(const Frame& frame) {
  if (frame.header().type != FrameType::kPong)
    return absl::InvalidArgumentError("not a PONG frame");
  return PayloadU64(frame, "PONG");
}

absl::StatusOr<std::string> ParseSource(const Frame& frame) {
  if (frame.header().type != FrameType::kSource) {
    return absl::InvalidArgumentError("not a SOURCE frame");
  }
  if (frame.payload().empty()) return absl::InvalidArgumentError("SOURCE names no source");
  return std::string(frame.payload());
}

}  // namespace canopy::wire
