#ifndef CANOPY_WIRE_QUEUED_LINK_H_
#define CANOPY_WIRE_QUEUED_LINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "wire/endpoint.h"
#include "wire/frame_sender.h"

namespace canopy::wire {

// A link with a bounded send queue, as a relay feeds a child through it:
// the caller sends, checks OverHighWatermark() and waits with
// NotifyWhenDrained() (back pressure), or sends dropping the oldest queued
// frames (for receivers that must never slow the sender). OutboundLink is
// the real one; tests use fakes.
//
// Thread-safe.
class QueuedLink : public FrameSender {
 public:
  // Like Send(), but never lets the queue grow past the high watermark:
  // the oldest queued DATA frames not yet handed to the socket are dropped
  // to make room, and counted.
  virtual bool SendDroppingOldest(FramePtr frame) = 0;
  // DATA frames dropped by SendDroppingOldest so far.
  virtual uint64_t dropped_frames() const = 0;
  // True while queued bytes exceed the high watermark.
  virtual bool OverHighWatermark() const = 0;
  virtual size_t QueuedBytes() const = 0;
  // Bytes handed to the socket since the link started: whether a full
  // link still drains.
  virtual uint64_t WrittenBytes() const = 0;
  // Runs `ready` once queued bytes are at or below the low watermark, or
  // the link closes; at once if that is already so. `ready` must not block.
  virtual void NotifyWhenDrained(std::function<void()> ready) = 0;
  // Closes the link; queued frames are dropped. Idempotent.
  virtual void Close() = 0;
  // Where the link goes.
  virtual const Endpoint& address() const = 0;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_QUEUED_LINK_H_
