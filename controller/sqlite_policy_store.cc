#include "controller/sqlite_policy_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace canopy::controller {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS group_policy (
  group_name TEXT PRIMARY KEY,
  allowed_sources TEXT NOT NULL DEFAULT ''   -- comma-separated source ids
);
CREATE TABLE IF NOT EXISTS static_link (
  node_a TEXT NOT NULL,
  node_b TEXT NOT NULL,
  cost_us INTEGER NOT NULL,
  PRIMARY KEY (node_a, node_b)
);
CREATE TABLE IF NOT EXISTS group_handle (
  group_name TEXT PRIMARY KEY,
  handle INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS setting (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_id (
  group_name TEXT NOT NULL,
  source TEXT NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (group_name, source),
  UNIQUE (group_name, id)
);
)sql";

// RAII wrapper for one prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  void Bind(int index, const std::string& text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int column) {
    const unsigned char* t = sqlite3_column_text(stmt_, column);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// Reads a group_policy row selected as kPolicyRow.
v1::GroupPolicy PolicyFromRow(Statement& st) {
  v1::GroupPolicy policy;
  policy.set_group(st.Text(0));
  for (absl::string_view s : absl::StrSplit(st.Text(1), ',', absl::SkipEmpty())) {
    policy.add_allowed_sources(std::string(s));
  }
  const int64_t profile = st.Int(2), slow = st.Int(4);
  policy.set_profile(v1::TreeProfile_IsValid(profile) ? static_cast<v1::TreeProfile>(profile)
                                                      : v1::TREE_PROFILE_UNSPECIFIED);
  policy.set_ttl(static_cast<uint32_t>(std::clamp<int64_t>(st.Int(3), 0, 255)));
  policy.set_slow_receiver(v1::SlowReceiverPolicy_IsValid(slow)
                               ? static_cast<v1::SlowReceiverPolicy>(slow)
                               : v1::SLOW_RECEIVER_UNSPECIFIED);
  return policy;
}

constexpr const char* kPolicyRow =
    "SELECT group_name, allowed_sources, profile, ttl, slow_receiver FROM group_policy ";

// Columns added to group_policy after its first version, with their SQL
// definitions; a store from an older version gains them on open.
constexpr std::pair<const char*, const char*> kPolicyColumns[] = {
    {"profile", "INTEGER NOT NULL DEFAULT 0"},
    {"ttl", "INTEGER NOT NULL DEFAULT 0"},
    {"slow_receiver", "INTEGER NOT NULL DEFAULT 0"},
};

}  // namespace

absl::Status SqlitePolicyStore::Migrate() {
  std::set<std::string> present;
  {
    Statement st(db_, "SELECT name FROM pragma_table_info('group_policy')");
    if (!st.ok()) return Error("read schema");
    while (st.Step() == SQLITE_ROW) present.insert(st.Text(0));
  }
  for (const auto& [column, definition] : kPolicyColumns) {
    if (present.contains(column)) continue;
    const std::string sql =
        absl::StrCat("ALTER TABLE group_policy ADD COLUMN ", column, " ", definition);
    if (absl::Status s = Exec(sql.c_str()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqlitePolicyStore>> store = SqlitePolicyStore::Open(path);
  if (!store.ok()) return store.status();
  return std::unique_ptr<PolicyStore>(*std::move(store));
}

absl::StatusOr<std::unique_ptr<SqlitePolicyStore>> SqlitePolicyStore::Open(
    const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open store '", path, "': ", message));
  }
  sqlite3_busy_timeout(db, 2000);
  // Write-ahead log with normal sync: a new id or policy costs no fsync per
  // statement, and the file stays consistent if the controller dies.
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
               nullptr);
  std::unique_ptr<SqlitePolicyStore> store(new SqlitePolicyStore(db, path));
  absl::MutexLock lock(&store->mu_);
  absl::Status schema = store->Exec(kSchema);
  if (schema.ok()) schema = store->Migrate();
  if (absl::Status s = schema; !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("store '", path, "' is not a usable Canopy store: ", s.message()));
  }
  return store;
}

SqlitePolicyStore::~SqlitePolicyStore() { sqlite3_close(db_); }

absl::Status SqlitePolicyStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(message);
  }
  return absl::OkStatus();
}

absl::Status SqlitePolicyStore::Error(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
}

absl::StatusOr<v1::GroupPolicy> SqlitePolicyStore::GetPolicy(const std::string& group) {
  absl::MutexLock lock(&mu_);
  const std::string sql = absl::StrCat(kPolicyRow, "WHERE group_name = ?");
  Statement st(db_, sql.c_str());
  if (!st.ok()) return Error("read policy");
  st.Bind(1, group);
  int rc = st.Step();
  if (rc == SQLITE_ROW) return PolicyFromRow(st);
  if (rc != SQLITE_DONE) return Error("read policy");
  v1::GroupPolicy policy;
  policy.set_group(group);
  return policy;
}

absl::Status SqlitePolicyStore::SetPolicy(const v1::GroupPolicy& policy) {
  absl::MutexLock lock(&mu_);
  Statement st(db_,
               "INSERT INTO group_policy (group_name, allowed_sources, profile, ttl, "
               "slow_receiver) VALUES (?, ?, ?, ?, ?) ON CONFLICT(group_name) DO UPDATE SET "
               "allowed_sources = excluded.allowed_sources, profile = excluded.profile, "
               "ttl = excluded.ttl, slow_receiver = excluded.slow_receiver");
  if (!st.ok()) return Error("write policy");
  st.Bind(1, policy.group());
  st.Bind(2, absl::StrJoin(policy.allowed_sources(), ","));
  st.Bind(3, static_cast<int64_t>(policy.profile()));
  st.Bind(4, static_cast<int64_t>(policy.ttl()));
  st.Bind(5, static_cast<int64_t>(policy.slow_receiver()));
  if (st.Step() != SQLITE_DONE) return Error("write policy");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::GroupPolicy>> SqlitePolicyStore::AllPolicies() {
  absl::MutexLock lock(&mu_);
  const std::string sql = absl::StrCat(kPolicyRow, "ORDER BY group_name");
  Statement st(db_, sql.c_str());
  if (!st.ok()) return Error("read policies");
  std::vector<v1::GroupPolicy> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back(PolicyFromRow(st));
  if (rc != SQLITE_DONE) return Error("read policies");
  return out;
}

absl::StatusOr<uint32_t> SqlitePolicyStore::SelectOrInsertId(const char* select_sql,
                                                             const char* insert_sql,
                                                             const std::string& group,
                                                             const std::string* source) {
  {
    Statement st(db_, select_sql);
    if (!st.ok()) return Error("read id");
    st.Bind(1, group);
    if (source != nullptr) st.Bind(2, *source);
    if (st.Step() == SQLITE_ROW) return static_cast<uint32_t>(st.Int(0));
  }
  Statement insert(db_, insert_sql);
  if (!insert.ok()) return Error("assign id");
  insert.Bind(1, group);
  if (source != nullptr) insert.Bind(2, *source);
  if (insert.Step() != SQLITE_ROW) return Error("assign id");
  return static_cast<uint32_t>(insert.Int(0));
}

absl::StatusOr<uint32_t> SqlitePolicyStore::GroupHandle(const std::string& group) {
  absl::MutexLock lock(&mu_);
  return SelectOrInsertId("SELECT handle FROM group_handle WHERE group_name = ?1",
                          "INSERT INTO group_handle (group_name, handle) "
                          "SELECT ?1, COALESCE(MAX(handle), 0) + 1 FROM group_handle "
                          "RETURNING handle",
                          group, nullptr);
}

absl::StatusOr<uint32_t> SqlitePolicyStore::SourceId(const std::string& group,
                                                     const std::string& source) {
  absl::MutexLock lock(&mu_);
  return SelectOrInsertId("SELECT id FROM source_id WHERE group_name = ?1 AND source = ?2",
                          "INSERT INTO source_id (group_name, source, id) "
                          "SELECT ?1, ?2, COALESCE(MAX(id), 0) + 1 FROM source_id "
                          "WHERE group_name = ?1 RETURNING id",
                          group, &source);
}

absl::StatusOr<std::vector<StaticLink>> SqlitePolicyStore::StaticLinks() {
  absl::MutexLock lock(&mu_);
  Statement st(db_, "SELECT node_a, node_b, cost_us FROM static_link ORDER BY node_a, node_b");
  if (!st.ok()) return Error("read static links");
  std::vector<StaticLink> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back({st.Text(0), st.Text(1), st.Int(2)});
  if (rc != SQLITE_DONE) return Error("read static links");
  return out;
}

absl::Status SqlitePolicyStore::SetStaticLinks(const std::vector<StaticLink>& links) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Exec("BEGIN"); !s.ok()) return s;
  absl::Status result = Exec("DELETE FROM static_link");
  for (const StaticLink& link : links) {
    if (!result.ok()) break;
    Statement st(db_, "INSERT INTO static_link (node_a, node_b, cost_us) VALUES (?, ?, ?)");
    if (!st.ok()) {
      result = Error("write static links");
      break;
    }
    st.Bind(1, link.a);
    st.Bind(2, link.b);
    st.Bind(3, link.cost_us);
    if (st.Step() != SQLITE_DONE) result = Error("write static links");
  }
  if (absl::Status s = Exec(result.ok() ? "COMMIT" : "ROLLBACK"); result.ok()) result = s;
  return result;
}

absl::StatusOr<std::optional<MulticastMapping>> SqlitePolicyStore::GetMulticastMapping() {
  absl::MutexLock lock(&mu_);
  Statement st(db_, "SELECT value FROM setting WHERE name = 'multicast_mapping'");
  if (!st.ok()) return Error("read multicast mapping");
  const int rc = st.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return Error("read multicast mapping");
  absl::StatusOr<MulticastMapping> mapping = ParseMulticastMapping(st.Text(0));
  if (!mapping.ok()) return mapping.status();
  return *mapping;
}

absl::Status SqlitePolicyStore::SetMulticastMapping(const MulticastMapping& mapping) {
  absl::MutexLock lock(&mu_);
  Statement st(db_,
               "INSERT INTO setting (name, value) VALUES ('multicast_mapping', ?) "
               "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  if (!st.ok()) return Error("write multicast mapping");
  st.Bind(1, mapping.ToString());
  if (st.Step() != SQLITE_DONE) return Error("write multicast mapping");
  return absl::OkStatus();
}

StoreHealth SqlitePolicyStore::Health() const { return StoreHealth{"sqlite", path_, true, ""}; }

}  // namespace canopy::controller
