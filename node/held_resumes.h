#ifndef CANOPY_NODE_HELD_RESUMES_H_
#define CANOPY_NODE_HELD_RESUMES_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "wire/control_frames.h"
#include "wire/queued_link.h"

namespace canopy::node {

// RESUMEs that arrived from a peer before this node's table named that peer
// a child of the flow: after a re-plan the child may learn of its new parent
// before the parent learns of its new child. They are held for a while and
// answered once the table catches up, instead of being dropped (the child
// would wait for a stream that never comes).
//
// At most one request per (peer, flow) is held — a newer one replaces it —
// and at most `max_held` in all. Thread-safe.
class HeldResumes {
 public:
  struct Held {
    std::weak_ptr<wire::QueuedLink> link;
    std::string peer;
    wire::ResumeRequest request;
    absl::Time until;  // answered by then or refused
  };

  explicit HeldResumes(size_t max_held) : max_held_(max_held) {}

  // Holds `held`. Returns false (and holds nothing) when `max_held` requests
  // are already held: the caller refuses it.
  bool Hold(Held held);

  // Removes and returns every held request, for the caller to answer,
  // hold again or refuse.
  std::vector<Held> TakeAll();

  size_t size() const;

 private:
  const size_t max_held_;
  mutable absl::Mutex mu_;
  std::vector<Held> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_HELD_RESUMES_H_
