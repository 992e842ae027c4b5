#include "node/forwarding_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/stripe_source.h"

namespace canopy::node {

void ForwardingState::ApplyTable(const v1::ForwardingTable& table, absl::Time now) {
  std::vector<std::function<void(bool)>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (table.version() < version_) return;
    version_ = table.version();
    auto old_flows = std::move(flows_);
    flows_.clear();
    by_ids_.clear();
    cut_off_.clear();
    for (const v1::CutOffSource& c : table.cut_off()) cut_off_[{c.group(), c.source()}] = c.reason();
    for (const v1::FlowEntry& e : table.flows()) {
      auto key = std::make_pair(e.group(), e.source());
      const uint64_t ids = IdKey(e.group_handle(), e.source_id());
      by_ids_[ids] = key;
      flows_[key] = e;
      retired_.erase(ids);
    }
    for (auto& [key, e] : old_flows) {
      if (flows_.contains(key)) continue;
      const uint64_t ids = IdKey(e.group_handle(), e.source_id());
      retired_[ids] = {std::move(e), now + kRetiredFlowGrace};
    }
    auto known = [&](const Watcher& w) {
      return by_ids_.contains(IdKey(w.group_handle, w.source_id));
    };
    for (const Watcher& w : watchers_) {
      if (known(w)) ready.push_back(w.known);
    }
    watchers_.erase(std::remove_if(watchers_.begin(), watchers_.end(), known), watchers_.end());
  }
  for (auto& f : ready) f(true);
}

void ForwardingState::ResetVersion() {
  absl::MutexLock lock(&mu_);
  version_ = 0;
}

void ForwardingState::ApplyPolicies(const v1::PolicyUpdate& update) {
  absl::MutexLock lock(&mu_);
  has_policies_ = true;
  allow_lists_.clear();
  for (const v1::GroupPolicy& p : update.policies()) {
    allow_lists_[p.group()].assign(p.allowed_sources().begin(), p.allowed_sources().end());
  }
}

void ForwardingState::RecordRejection(const v1::SourceRejected& rejected) {
  absl::MutexLock lock(&mu_);
  rejected_[{rejected.key().group(), rejected.key().source()}] = rejected.reason();
}

void ForwardingState::ClearRejection(const std::string& group, const std::string& source) {
  absl::MutexLock lock(&mu_);
  rejected_.erase({group, source});
}

std::optional<v1::FlowEntry> ForwardingState::Find(const std::string& group,
                                                   const std::string& source) const {
  absl::MutexLock lock(&mu_);
  auto it = flows_.find(std::make_pair(group, source));
  if (it == flows_.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::FlowEntry> ForwardingState::FindByIds(uint32_t group_handle,
                                                        uint32_t source_id) const {
  absl::MutexLock lock(&mu_);
  const uint64_t ids = IdKey(group_handle, source_id);
  if (auto it = by_ids_.find(ids); it != by_ids_.end()) return flows_.at(it->second);
  if (auto it = retired_.find(ids); it != retired_.end()) return it->second.first;
  return std::nullopt;
}

std::vector<v1::FlowEntry> ForwardingState::Entries() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::FlowEntry> out;
  out.reserve(flows_.size());
  for (const auto& [key, entry] : flows_) out.push_back(entry);
  return out;
}

std::vector<v1::FlowEntry> ForwardingState::RetiredEntries() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::FlowEntry> out;
  out.reserve(retired_.size());
  for (const auto& [ids, retired] : retired_) out.push_back(retired.first);
  return out;
}

absl::Status ForwardingState::CheckAllowed(const std::string& group,
                                           const std::string& source) const {
  absl::MutexLock lock(&mu_);
  if (auto it = rejected_.find({group, source}); it != rejected_.end()) {
    return absl::PermissionDeniedError(it->second);
  }
  if (!has_policies_) {
    return absl::UnavailableError(absl::StrCat("no policy for group '", group,
                                               "' from the controller yet (this node has not "
                                               "reached the controller since it started)"));
  }
  auto it = allow_lists_.find(group);
  if (it == allow_lists_.end() || it->second.empty()) return absl::OkStatus();
  if (std::find(it->second.begin(), it->second.end(), BaseSourceId(source)) != it->second.end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("source '", source, "' may not publish to group '", group,
                   "' (allowed: ", absl::StrJoin(it->second, ", "), ")"));
}

ForwardingState::FlowReadiness ForwardingState::AwaitFlow(const std::string& group,
                                                          const std::string& source,
                                                          absl::Duration timeout) const {
  auto key = std::make_pair(group, source);
  absl::MutexLock lock(&mu_);
  auto decided = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return flows_.contains(key) || rejected_.contains(key);
  };
  mu_.AwaitWithTimeout(absl::Condition(&decided), timeout);
  if (rejected_.contains(key)) return FlowReadiness::kRejected;
  return flows_.contains(key) ? FlowReadiness::kReady : FlowReadiness::kTimedOut;
}

void ForwardingState::WhenFlowKnown(uint32_t group_handle, uint32_t source_id, absl::Time deadline,
                                    std::function<void(bool)> known) {
  {
    absl::MutexLock lock(&mu_);
    const uint64_t ids = IdKey(group_handle, source_id);
    if (!by_ids_.contains(ids) && !retired_.contains(ids)) {
      watchers_.push_back(Watcher{group_handle, source_id, deadline, std::move(known)});
      return;
    }
  }
  known(true);
}

void ForwardingState::Expire(absl::Time now) {
  std::vector<std::function<void(bool)>> expired;
  {
    absl::MutexLock lock(&mu_);
    absl::erase_if(retired_, [&](const auto& kv) { return kv.second.second <= now; });
    auto past = [&](const Watcher& w) { return w.deadline <= now; };
    for (const Watcher& w : watchers_) {
      if (past(w)) expired.push_back(w.known);
    }
    watchers_.erase(std::remove_if(watchers_.begin(), watchers_.end(), past), watchers_.end());
  }
  for (auto& f : expired) f(false);
}

std::map<std::pair<std::string, std::string>, std::string> ForwardingState::CutOffs() const {
  absl::MutexLock lock(&mu_);
  return cut_off_;
}

bool ForwardingState::has_policies() const {
  absl::MutexLock lock(&mu_);
  return has_policies_;
}

uint64_t ForwardingState::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::optional<std::string> ForwardingState::Rejection(const std::string& group,
                                                      const std::string& source) const {
  absl::MutexLock lock(&mu_);
  auto it = rejected_.find({group, source});
  if (it == rejected_.end()) return std::nullopt;
  return it->second;
}

}  // namespace canopy::node
