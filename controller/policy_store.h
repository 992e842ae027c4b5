#ifndef CANOPY_CONTROLLER_POLICY_STORE_H_
#define CANOPY_CONTROLLER_POLICY_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "canopy/v1/common.pb.h"
#include "controller/planner.h"
#include "controller/static_links.h"

struct sqlite3;

namespace canopy::controller {

// The controller's durable state in one SQLite file: group policies, static
// links, and the numeric ids that data frames carry (group → handle,
// (group, source) → id). Ids never change once given out.
//
// Thread-safe.
class PolicyStore final : public IdSource {
 public:
  // Opens (creating if needed) the store at `path`. Returns an error naming
  // the file if it cannot be opened or is not a Canopy store.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const std::string& path);

  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;
  ~PolicyStore() override;

  // The group's policy; a default one (anyone may publish) if none is stored.
  absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group);

  // Stores the policy, replacing the previous one.
  absl::Status SetPolicy(const v1::GroupPolicy& policy);

  // Every stored policy, ordered by group.
  absl::StatusOr<std::vector<v1::GroupPolicy>> AllPolicies();

  // The group's handle, given out (and stored) on first use. Handles start
  // at 1.
  absl::StatusOr<uint32_t> GroupHandle(const std::string& group) override;

  // The source's id within its group, given out on first use, from 1.
  absl::StatusOr<uint32_t> SourceId(const std::string& group,
                                    const std::string& source) override;

  // The configured static links (empty = full mesh) / replaces them all.
  absl::StatusOr<std::vector<StaticLink>> StaticLinks();
  absl::Status SetStaticLinks(const std::vector<StaticLink>& links);

 private:
  explicit PolicyStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds columns that a store written by an older version lacks.
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `select_sql` (?1 = group, ?2 = source if given); if it finds no
  // row, runs `insert_sql` (same parameters, RETURNING the new id).
  absl::StatusOr<uint32_t> SelectOrInsertId(const char* select_sql, const char* insert_sql,
                                            const std::string& group, const std::string* source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(const std::string& what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_POLICY_STORE_H_
