#ifndef CANOPY_CONTROLLER_NODE_CHANNEL_H_
#define CANOPY_CONTROLLER_NODE_CHANNEL_H_

#include <cstddef>

#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

// The way back to one attached node. Never blocks: what cannot be written
// at once waits in the channel, whose owner bounds it.
class NodeChannel {
 public:
  virtual ~NodeChannel() = default;
  // Queues one instruction for the node without waiting for the node to
  // read it; false if the stream is gone or the queue overflowed (then the
  // channel has closed itself). Thread-safe.
  virtual bool Send(const v1::NodeInstruction& instruction) = 0;
  // Ends the node's stream (replaced by a newer session, declared dead, or
  // not draining). Thread-safe; never blocks.
  virtual void Close() = 0;
  // Instructions queued and not yet written to the stream.
  virtual size_t Queued() const { return 0; }
  // When the oldest instruction still waiting to be written was queued;
  // InfiniteFuture if none waits.
  virtual absl::Time OldestQueued() const { return absl::InfiniteFuture(); }
  // True once a Send found the queue over its bound.
  virtual bool overflowed() const { return false; }
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_NODE_CHANNEL_H_
