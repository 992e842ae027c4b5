#include "node/multicast_datagram.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "boost/endian/conversion.hpp"

namespace canopy::node {
namespace {

constexpr char kMagic[4] = {'C', 'N', 'M', '1'};

struct Parsed {
  uint32_t group_handle, source_id;
  uint64_t sequence;
  uint32_t index, count;
  absl::string_view slice;
};

absl::StatusOr<Parsed> ParseDatagram(absl::string_view d) {
  if (d.size() <= kDatagramHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("datagram of ", d.size(), " bytes is too short"));
  }
  if (std::memcmp(d.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("datagram without the CNM1 magic");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(d.data());
  Parsed out;
  out.group_handle = boost::endian::load_big_u32(p + 4);
  out.source_id = boost::endian::load_big_u32(p + 8);
  out.sequence = boost::endian::load_big_u64(p + 12);
  out.index = boost::endian::load_big_u16(p + 20);
  out.count = boost::endian::load_big_u16(p + 22);
  out.slice = d.substr(kDatagramHeaderBytes);
  if (out.count == 0 || out.index >= out.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("fragment ", out.index, " of ", out.count, " does not exist"));
  }
  return out;
}

}  // namespace

uint32_t FragmentCount(size_t frame_bytes, size_t datagram_bytes) {
  const size_t slice = SliceBytes(datagram_bytes);
  return static_cast<uint32_t>(std::max<size_t>(1, (frame_bytes + slice - 1) / slice));
}

std::array<char, kDatagramHeaderBytes> DatagramHeader(const wire::FrameHeader& frame,
                                                      uint32_t index, uint32_t count) {
  std::array<char, kDatagramHeaderBytes> h{};
  std::memcpy(h.data(), kMagic, sizeof(kMagic));
  auto* p = reinterpret_cast<unsigned char*>(h.data());
  boost::endian::store_big_u32(p + 4, frame.group_handle);
  boost::endian::store_big_u32(p + 8, frame.source_id);
  boost::endian::store_big_u64(p + 12, frame.sequence);
  boost::endian::store_big_u16(p + 20, static_cast<uint16_t>(index));
  boost::endian::store_big_u16(p + 22, static_cast<uint16_t>(count));
  return h;
}

FrameReassembler::FrameReassembler(uint32_t max_payload, absl::Duration max_age,
                                   size_t max_pending_bytes)
    : max_payload_(max_payload), max_age_(max_age), max_pending_bytes_(max_pending_bytes) {}

absl::StatusOr<wire::FramePtr> FrameReassembler::Add(absl::string_view datagram, absl::Time now) {
  absl::StatusOr<Parsed> d = ParseDatagram(datagram);
  if (!d.ok()) return d.status();
  if (!pending_.empty()) Evict(now);
  if (d->count == 1) return wire::Frame::Adopt(d->slice, max_payload_);
  // Every slice but the last has this datagram's size: a frame that would
  // outgrow the largest payload is refused before anything is held.
  if (d->index + 1 < d->count &&
      static_cast<uint64_t>(d->count - 1) * d->slice.size() > max_payload_ + wire::kHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a frame of ", d->count, " fragments of ", d->slice.size(),
                     " bytes exceeds the largest payload (", max_payload_, " bytes)"));
  }
  const Key key{d->group_handle, d->source_id, d->sequence};
  auto [it, inserted] = pending_.try_emplace(key);
  Partial& part = it->second;
  if (inserted) {
    part.slices.resize(d->count);
    part.first_seen = now;
  } else if (part.slices.size() != d->count) {
    return absl::InvalidArgumentError("fragments of one frame disagree on their count");
  }
  std::string& slot = part.slices[d->index];
  if (!slot.empty()) return wire::FramePtr(nullptr);  // a duplicate
  slot.assign(d->slice.data(), d->slice.size());
  ++part.have;
  part.bytes += slot.size();
  pending_bytes_ += slot.size();
  if (part.have < d->count) {
    if (pending_bytes_ > max_pending_bytes_) Evict(now);
    return wire::FramePtr(nullptr);
  }
  wire::FrameBuffer bytes(part.bytes);
  size_t at = 0;
  for (const std::string& s : part.slices) {
    std::memcpy(bytes.data() + at, s.data(), s.size());
    at += s.size();
  }
  pending_bytes_ -= part.bytes;
  pending_.erase(it);
  return wire::Frame::Adopt(std::move(bytes), max_payload_);
}

void FrameReassembler::Evict(absl::Time now) {
  // Too old first, then the oldest while over the byte bound.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.first_seen <= max_age_) {
      ++it;
      continue;
    }
    pending_bytes_ -= it->second.bytes;
    it = pending_.erase(it);
    ++abandoned_;
  }
  while (pending_bytes_ > max_pending_bytes_ && !pending_.empty()) {
    auto oldest = std::min_element(
        pending_.begin(), pending_.end(),
        [](const auto& a, const auto& b) { return a.second.first_seen < b.second.first_seen; });
    pending_bytes_ -= oldest->second.bytes;
    pending_.erase(oldest);
    ++abandoned_;
  }
}

}  // namespace canopy::node
