#ifndef CANOPY_CONTROLLER_SQLITE_POLICY_STORE_H_
#define CANOPY_CONTROLLER_SQLITE_POLICY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/policy_store.h"

struct sqlite3;

namespace canopy::controller {

// The durable state of one controller in one SQLite file
// (canopy-controller --store), the embedded default.
//
// Thread-safe.
class SqlitePolicyStore final : public PolicyStore {
 public:
  // Opens (creating if needed) the store at `path`. Returns an error naming
  // the file if it cannot be opened or is not a Canopy store.
  static absl::StatusOr<std::unique_ptr<SqlitePolicyStore>> Open(const std::string& path);

  SqlitePolicyStore(const SqlitePolicyStore&) = delete;
  SqlitePolicyStore& operator=(const SqlitePolicyStore&) = delete;
  ~SqlitePolicyStore() override;

  absl::StatusOr<v1::GroupPolicy> GetPolicy(const std::string& group) override;
  absl::Status SetPolicy(const v1::GroupPolicy& policy) override;
  absl::StatusOr<std::vector<v1::GroupPolicy>> AllPolicies() override;
  absl::StatusOr<uint32_t> GroupHandle(const std::string& group) override;
  absl::StatusOr<uint32_t> SourceId(const std::string& group, const std::string& source) override;
  absl::StatusOr<std::vector<StaticLink>> StaticLinks() override;
  absl::Status SetStaticLinks(const std::vector<StaticLink>& links) override;
  absl::StatusOr<std::optional<MulticastMapping>> GetMulticastMapping() override;
  absl::Status SetMulticastMapping(const MulticastMapping& mapping) override;
  StoreHealth Health() const override;

 private:
  SqlitePolicyStore(sqlite3* db, std::string path) : path_(std::move(path)), db_(db) {}
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds columns that a store written by an older version lacks.
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `select_sql` (?1 = group, ?2 = source if given); if it finds no
  // row, runs `insert_sql` (same parameters, RETURNING the new id).
  absl::StatusOr<uint32_t> SelectOrInsertId(const char* select_sql, const char* insert_sql,
                                            const std::string& group, const std::string* source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(const std::string& what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_SQLITE_POLICY_STORE_H_
