#ifndef CANOPY_CONTROLLER_POLICY_STORE_H_
#define CANOPY_CONTROLLER_POLICY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "canopy/v1/common.pb.h"
#include "controller/id_source.h"
#include "controller/multicast_mapping.h"
#include "controller/static_links.h"

namespace canopy::controller {

// Whether the store answers now.
struct StoreHealth {
  std::string kind;      // "sqlite" or "etcd"
  std::string location;  // the file, or the etcd key prefix
  bool reachable = true;
  std::string error;  // why not, when it does not
};

// The controller's durable state: group policies, static links, the
// multicast mapping, and the numeric ids that data frames carry (group →
// handle, (group, source) → id). Ids never change once given out.
// Two implementations: SQLite for one controller (sqlite_policy_store.h),
// etcd for replicas (etcd_policy_store.h).
//
// Implementations are thread-safe.
class PolicyStore : public IdSource {
 public:
  // Opens (creating if needed) the SQLite store at `path`, the embedded
  // default. Returns an error naming the file if it cannot be opened or is
  // not a Canopy store.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const std::string& path);

  ~PolicyStore() override = default;

  // The group's policy; a default one (anyone may publish) if none is stored.
  virtual absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group) = 0;

  // Stores the policy, replacing the previous one. Unavailable (naming the
  // store) when the store cannot be written now.
  virtual absl::Status SetPolicy(const v1::GroupPolicy& policy) = 0;

  // Every stored policy, ordered by group.
  virtual absl::StatusOr<std::vector<v1::GroupPolicy>> AllPolicies() = 0;

  // The group's handle, given out (and stored) on first use. Handles start
  // at 1.
  absl::StatusOr<uint32_t> GroupHandle(const std::string& group) override = 0;

  // The source's id within its group, given out on first use, from 1.
  absl::StatusOr<uint32_t> SourceId(const std::string& group,
                                    const std::string& source) override = 0;

  // The configured static links (empty = full mesh) / replaces them all.
  virtual absl::StatusOr<std::vector<StaticLink>> StaticLinks() = 0;
  virtual absl::Status SetStaticLinks(const std::vector<StaticLink>& links) = 0;

  // The stored multicast mapping (nullopt: none stored yet) / replaces it.
  virtual absl::StatusOr<std::optional<MulticastMapping>> GetMulticastMapping() = 0;
  virtual absl::Status SetMulticastMapping(const MulticastMapping& mapping) = 0;

  // What the store is and whether it answers now. Never blocks.
  virtual StoreHealth Health() const = 0;
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_POLICY_STORE_H_
