#ifndef CANOPY_WIRE_FRAME_SENDER_H_
#define CANOPY_WIRE_FRAME_SENDER_H_

#include <string>

#include "wire/frame.h"

namespace canopy::wire {

// Something frames can be sent to: a link to a child, or back up a link
// from a parent. Lets the node's repair logic be tested with fakes.
class FrameSender {
 public:
  virtual ~FrameSender() = default;
  // Queues `frame` behind those already queued; false (and dropped) once
  // closed. Thread-safe.
  virtual bool Send(FramePtr frame) = 0;
  virtual bool closed() const = 0;
  // The node at the other end, and its "ip:port".
  virtual const std::string& peer_node() const = 0;
  virtual std::string remote_address() const = 0;
};

}  // namespace canopy::wire

#endif  // CANOPY_WIRE_FRAME_SENDER_H_
