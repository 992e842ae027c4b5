#ifndef CANOPY_NODE_PARENT_LINKS_H_
#define CANOPY_NODE_PARENT_LINKS_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "wire/frame_sender.h"

namespace canopy::node {

// The links parents opened to this node, by the node id and link token
// their HELLO announced: RESUME frames go back up the one whose id and
// token the table names for a flow's parent, so an impostor that reused a
// parent's id never receives them.
//
// Thread-safe.
class ParentLinks {
 public:
  void Register(const std::string& node, const std::string& token,
                std::weak_ptr<wire::FrameSender> link) {
    absl::MutexLock lock(&mu_);
    links_[{node, token}] = std::move(link);
  }
  // The live link from `node` with `token`, or null.
  std::shared_ptr<wire::FrameSender> Find(const std::string& node, const std::string& token) const {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(std::make_pair(node, token));
    if (it == links_.end()) return nullptr;
    std::shared_ptr<wire::FrameSender> link = it->second.lock();
    return link != nullptr && !link->closed() ? link : nullptr;
  }
  // Forgets links that closed.
  void Prune() {
    absl::MutexLock lock(&mu_);
    absl::erase_if(links_, [](const auto& kv) {
      std::shared_ptr<wire::FrameSender> link = kv.second.lock();
      return link == nullptr || link->closed();
    });
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, std::weak_ptr<wire::FrameSender>> links_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::node

#endif  // CANOPY_NODE_PARENT_LINKS_H_
