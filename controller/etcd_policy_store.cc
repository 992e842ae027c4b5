#include "controller/etcd_policy_store.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

constexpr int kAssignAttempts = 8;
// Waits between attempts to watch again after the stream broke.
constexpr absl::Duration kWatchRetry = absl::Milliseconds(500);
// While etcd is known to be unreachable, writes fail at once; one is let
// through to etcd this long after the last failure, so the store finds
// out by itself that etcd is back.
constexpr absl::Duration kRetryUnreachable = absl::Seconds(1);

std::string LinksText(const std::vector<StaticLink>& links) {
  std::string text;
  for (const StaticLink& l : links) absl::StrAppend(&text, l.a, " ", l.b, " ", l.cost_us, "\n");
  return text;
}

}  // namespace

EtcdPolicyStore::EtcdPolicyStore(EtcdClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

EtcdPolicyStore::~EtcdPolicyStore() { StopWatching(); }

bool EtcdPolicyStore::ApplyKey(Cache& cache, const std::string& key,
                               const std::optional<std::string>& value) {
  absl::string_view rest = key;
  if (!absl::ConsumePrefix(&rest, prefix_)) return false;
  if (absl::ConsumePrefix(&rest, "policy/")) {
    const std::string group(rest);
    if (!value) return cache.policies.erase(group) > 0;
    v1::GroupPolicy policy;
    if (!google::protobuf::util::JsonStringToMessage(*value, &policy).ok()) {
      spdlog::warn("etcd key {} is not a GroupPolicy in JSON; ignored", key);
      return false;
    }
    policy.set_group(group);
    auto it = cache.policies.find(group);
    if (it != cache.policies.end() &&
        it->second.SerializeAsString() == policy.SerializeAsString()) {
      return false;
    }
    cache.policies[group] = policy;
    return true;
  }
  uint32_t id = 0;
  if (absl::ConsumePrefix(&rest, "group/")) {
    if (value && absl::SimpleAtoi(*value, &id)) {
      return std::exchange(cache.handles[std::string(rest)], id) != id;
    }
    return cache.handles.erase(std::string(rest)) > 0;
  }
  if (absl::ConsumePrefix(&rest, "source/")) {
    const size_t slash = rest.rfind('/');
    if (slash == absl::string_view::npos) return false;
    const std::pair<std::string, std::string> k(rest.substr(0, slash), rest.substr(slash + 1));
    if (value && absl::SimpleAtoi(*value, &id)) return std::exchange(cache.source_ids[k], id) != id;
    return cache.source_ids.erase(k) > 0;
  }
  if (rest == "links") {
    std::vector<StaticLink> links;
    if (value) {
      absl::StatusOr<std::vector<StaticLink>> parsed = ParseStaticLinks(*value);
      if (!parsed.ok()) {
        spdlog::warn("etcd key {}: {}; ignored", key, std::string(parsed.status().message()));
        return false;
      }
      links = *std::move(parsed);
    }
    if (links == cache.links) return false;
    cache.links = std::move(links);
    return true;
  }
  if (rest == "multicast") {
    std::optional<MulticastMapping> mapping;
    if (value) {
      absl::StatusOr<MulticastMapping> parsed = ParseMulticastMapping(*value);
      if (!parsed.ok()) {
        spdlog::warn("etcd key {}: {}; ignored", key, std::string(parsed.status().message()));
        return false;
      }
      mapping = *parsed;
    }
    if (mapping == cache.mapping) return false;
    cache.mapping = mapping;
    return true;
  }
  return false;  // counters and keys of other parts (election, replicas)
}

absl::Status EtcdPolicyStore::Load(std::function<void()> on_external_change) {
  StopWatching();
  etcdserverpb::RangeRequest request;
  request.set_key(prefix_);
  request.set_range_end(PrefixEnd(prefix_));
  absl::StatusOr<etcdserverpb::RangeResponse> response = client_.Range(request);
  NoteResult(response.status());
  if (!response.ok()) return response.status();
  Cache fresh;
  for (const mvccpb::KeyValue& kv : response->kvs()) ApplyKey(fresh, kv.key(), kv.value());
  spdlog::info(
      "loaded {} policy(ies), {} group handle(s), {} static link(s) from etcd at "
      "revision {}",
      fresh.policies.size(), fresh.handles.size(), fresh.links.size(),
      response->header().revision());
  {
    absl::MutexLock lock(&mu_);
    cache_ = std::move(fresh);
  }
  absl::MutexLock lock(&watch_mu_);
  watch_stop_ = std::make_shared<absl::Notification>();
  watch_thread_ = std::thread(
      [this, stop = watch_stop_, from = response->header().revision() + 1,
       on_change = std::move(on_external_change)] { RunWatch(*stop, from, on_change); });
  return absl::OkStatus();
}

void EtcdPolicyStore::StopWatching() {
  absl::MutexLock lock(&watch_mu_);
  if (!watch_thread_.joinable()) return;
  watch_stop_->Notify();
  {
    absl::MutexLock cache_lock(&mu_);
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  watch_thread_.join();
}

void EtcdPolicyStore::RunWatch(absl::Notification& stop, int64_t from_revision,
                               const std::function<void()>& on_external_change) {
  int64_t next = from_revision;
  while (!stop.HasBeenNotified()) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stop.HasBeenNotified()) break;
      watch_context_ = &context;
    }
    auto stream = client_.Watch(context);
    etcdserverpb::WatchRequest create;
    create.mutable_create_request()->set_key(prefix_);
    create.mutable_create_request()->set_range_end(PrefixEnd(prefix_));
    create.mutable_create_request()->set_start_revision(next);
    etcdserverpb::WatchResponse response;
    bool compacted = false;
    if (stream->Write(create)) {
      while (stream->Read(&response)) {
        if (response.compact_revision() > 0) {
          compacted = true;  // what was missed is gone: read it all again
          break;
        }
        bool changed = false;
        {
          absl::MutexLock lock(&mu_);
          for (const mvccpb::Event& e : response.events()) {
            const std::optional<std::string> value =
                e.type() == mvccpb::Event::PUT ? std::optional<std::string>(e.kv().value())
                                               : std::nullopt;
            changed |= ApplyKey(cache_, e.kv().key(), value);
            next = std::max(next, e.kv().mod_revision() + 1);
          }
        }
        if (changed && on_external_change) on_external_change();
      }
    }
    context.TryCancel();
    stream->Finish();
    {
      absl::MutexLock lock(&mu_);
      watch_context_ = nullptr;
    }
    if (compacted && !stop.HasBeenNotified()) {
      etcdserverpb::RangeRequest request;
      request.set_key(prefix_);
      request.set_range_end(PrefixEnd(prefix_));
      absl::StatusOr<etcdserverpb::RangeResponse> all = client_.Range(request);
      if (all.ok()) {
        Cache fresh;
        for (const mvccpb::KeyValue& kv : all->kvs()) ApplyKey(fresh, kv.key(), kv.value());
        {
          absl::MutexLock lock(&mu_);
          cache_ = std::move(fresh);
        }
        next = all->header().revision() + 1;
        if (on_external_change) on_external_change();
      }
    }
    stop.WaitForNotificationWithTimeout(kWatchRetry);
  }
}

void EtcdPolicyStore::Fence(std::string leader_key, int64_t revision) {
  absl::MutexLock lock(&mu_);
  fence_key_ = std::move(leader_key);
  fence_revision_ = revision;
}

void EtcdPolicyStore::ReportReachability(const absl::Status& status) { NoteResult(status); }

void EtcdPolicyStore::NoteResult(const absl::Status& status) {
  // Only transport trouble makes etcd unreachable; a refused write is an
  // answer.
  if (!status.ok() && !absl::IsUnavailable(status) && !absl::IsDeadlineExceeded(status)) return;
  absl::MutexLock lock(&mu_);
  if (status.ok() != reachable_) {
    if (status.ok()) {
      spdlog::info("etcd answers again");
    } else {
      spdlog::warn(
          "etcd unreachable: {}; planning goes on from the last state, policy changes "
          "are refused until it answers",
          std::string(status.message()));
    }
  }
  reachable_ = status.ok();
  error_ = status.ok() ? "" : std::string(status.message());
  if (!status.ok()) last_failure_ = absl::Now();
}

absl::Status EtcdPolicyStore::CheckReachable(const char* what) const {
  absl::MutexLock lock(&mu_);
  if (reachable_ || absl::Now() - last_failure_ >= kRetryUnreachable) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("etcd unreachable (", error_, "): ", what,
                                             " cannot be stored until it answers"));
}

StoreHealth EtcdPolicyStore::Health() const {
  absl::MutexLock lock(&mu_);
  return StoreHealth{"etcd", prefix_, reachable_, error_};
}

absl::StatusOr<bool> EtcdPolicyStore::Write(
    const std::vector<std::pair<std::string, std::string>>& puts,
    const std::vector<std::string>& absent,
    const std::vector<std::pair<std::string, int64_t>>& mod_revisions) {
  etcdserverpb::TxnRequest txn;
  {
    absl::MutexLock lock(&mu_);
    if (!fence_key_.empty()) {
      etcdserverpb::Compare* c = txn.add_compare();
      c->set_key(fence_key_);
      c->set_target(etcdserverpb::Compare::CREATE);
      c->set_result(etcdserverpb::Compare::EQUAL);
      c->set_create_revision(fence_revision_);
    }
  }
  const bool fenced = txn.compare_size() > 0;
  for (const std::string& key : absent) {
    etcdserverpb::Compare* c = txn.add_compare();
    c->set_key(key);
    c->set_target(etcdserverpb::Compare::VERSION);
    c->set_result(etcdserverpb::Compare::EQUAL);
    c->set_version(0);
  }
  for (const auto& [key, revision] : mod_revisions) {
    etcdserverpb::Compare* c = txn.add_compare();
    c->set_key(key);
    c->set_target(etcdserverpb::Compare::MOD);
    c->set_result(etcdserverpb::Compare::EQUAL);
    c->set_mod_revision(revision);
  }
  for (const auto& [key, value] : puts) {
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
  }
  if (fenced) {
    // On failure, tell a lost leadership from a lost race.
    etcdserverpb::RangeRequest* leader = txn.add_failure()->mutable_request_range();
    absl::MutexLock lock(&mu_);
    leader->set_key(fence_key_);
  }
  absl::StatusOr<etcdserverpb::TxnResponse> response = client_.Txn(txn);
  NoteResult(response.status());
  if (absl::IsUnavailable(response.status()) || absl::IsDeadlineExceeded(response.status())) {
    // No quorum, or no member answers: one kind of refusal, naming etcd.
    return absl::UnavailableError(absl::StrCat("etcd unreachable (", response.status().message(),
                                               "): the change cannot be stored until it answers"));
  }
  if (!response.ok()) return response.status();
  if (response->succeeded()) return true;
  if (fenced && response->responses_size() > 0) {
    const etcdserverpb::RangeResponse& leader = response->responses(0).response_range();
    absl::MutexLock lock(&mu_);
    if (leader.kvs_size() == 0 || leader.kvs(0).create_revision() != fence_revision_) {
      return absl::FailedPreconditionError(
          "this controller no longer leads: the store refuses its writes");
    }
  }
  return false;
}

absl::StatusOr<v1::GroupPolicy> EtcdPolicyStore::GetPolicy(const std::string& group) {
  absl::MutexLock lock(&mu_);
  if (auto it = cache_.policies.find(group); it != cache_.policies.end()) return it->second;
  v1::GroupPolicy policy;
  policy.set_group(group);
  return policy;
}

absl::Status EtcdPolicyStore::SetPolicy(const v1::GroupPolicy& policy) {
  if (absl::Status s = CheckReachable("policy changes"); !s.ok()) return s;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(policy, &json); !s.ok()) {
    return absl::InternalError(absl::StrCat("policy to JSON: ", s.ToString()));
  }
  absl::MutexLock writing(&write_mu_);
  absl::StatusOr<bool> written = Write({{prefix_ + "policy/" + policy.group(), json}}, {}, {});
  if (!written.ok()) return written.status();
  absl::MutexLock lock(&mu_);
  cache_.policies[policy.group()] = policy;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::GroupPolicy>> EtcdPolicyStore::AllPolicies() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::GroupPolicy> out;
  for (const auto& [group, policy] : cache_.policies) out.push_back(policy);
  return out;
}

absl::StatusOr<uint32_t> EtcdPolicyStore::AssignId(const std::string& key,
                                                   const std::string& counter) {
  if (absl::Status s = CheckReachable("new ids"); !s.ok()) return s;
  absl::MutexLock writing(&write_mu_);
  for (int attempt = 0; attempt < kAssignAttempts; ++attempt) {
    etcdserverpb::RangeRequest read;
    read.set_key(counter);
    absl::StatusOr<etcdserverpb::RangeResponse> current = client_.Range(read);
    NoteResult(current.status());
    if (!current.ok()) return current.status();
    uint64_t last = 0;
    int64_t revision = 0;
    if (current->kvs_size() > 0) {
      revision = current->kvs(0).mod_revision();
      if (!absl::SimpleAtoi(current->kvs(0).value(), &last)) last = 0;
    }
    if (last >= UINT32_MAX) return absl::ResourceExhaustedError("no ids left");
    const std::string next = absl::StrCat(last + 1);
    // The counter must not have moved (MOD == 0 means absent) and the key
    // must still be free.
    absl::StatusOr<bool> written =
        Write({{counter, next}, {key, next}}, {key}, {{counter, revision}});
    if (!written.ok()) return written.status();
    if (*written) return static_cast<uint32_t>(last + 1);
    // Someone else gave it out (or moved the counter): read it again.
    etcdserverpb::RangeRequest existing;
    existing.set_key(key);
    absl::StatusOr<etcdserverpb::RangeResponse> found = client_.Range(existing);
    if (!found.ok()) return found.status();
    uint32_t id = 0;
    if (found->kvs_size() > 0 && absl::SimpleAtoi(found->kvs(0).value(), &id)) return id;
  }
  return absl::AbortedError(absl::StrCat("could not give out an id for ", key));
}

absl::StatusOr<uint32_t> EtcdPolicyStore::GroupHandle(const std::string& group) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cache_.handles.find(group); it != cache_.handles.end()) return it->second;
  }
  absl::StatusOr<uint32_t> id = AssignId(prefix_ + "group/" + group, prefix_ + "counter/group");
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  cache_.handles[group] = *id;
  return *id;
}

absl::StatusOr<uint32_t> EtcdPolicyStore::SourceId(const std::string& group,
                                                   const std::string& source) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cache_.source_ids.find({group, source}); it != cache_.source_ids.end()) {
      return it->second;
    }
  }
  absl::StatusOr<uint32_t> id = AssignId(absl::StrCat(prefix_, "source/", group, "/", source),
                                         prefix_ + "counter/source/" + group);
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  cache_.source_ids[{group, source}] = *id;
  return *id;
}

absl::StatusOr<std::vector<StaticLink>> EtcdPolicyStore::StaticLinks() {
  absl::MutexLock lock(&mu_);
  return cache_.links;
}

absl::Status EtcdPolicyStore::SetStaticLinks(const std::vector<StaticLink>& links) {
  if (absl::Status s = CheckReachable("static links"); !s.ok()) return s;
  absl::MutexLock writing(&write_mu_);
  absl::StatusOr<bool> written = Write({{prefix_ + "links", LinksText(links)}}, {}, {});
  if (!written.ok()) return written.status();
  absl::MutexLock lock(&mu_);
  cache_.links = links;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<MulticastMapping>> EtcdPolicyStore::GetMulticastMapping() {
  absl::MutexLock lock(&mu_);
  return cache_.mapping;
}

absl::Status EtcdPolicyStore::SetMulticastMapping(const MulticastMapping& mapping) {
  if (absl::Status s = CheckReachable("the multicast mapping"); !s.ok()) return s;
  absl::MutexLock writing(&write_mu_);
  absl::StatusOr<bool> written = Write({{prefix_ + "multicast", mapping.ToString()}}, {}, {});
  if (!written.ok()) return written.status();
  absl::MutexLock lock(&mu_);
  cache_.mapping = mapping;
  return absl::OkStatus();
}

}  // namespace canopy::controller
