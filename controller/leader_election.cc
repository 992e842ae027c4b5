#include "controller/leader_election.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace canopy::controller {
namespace {

// Waits between attempts while etcd does not answer.
constexpr absl::Duration kRetry = absl::Milliseconds(300);

}  // namespace

LeaderElection::LeaderElection(EtcdClient& client, LeaderElectionOptions options)
    : client_(client),
      options_(std::move(options)),
      election_name_(options_.prefix + "leader"),
      replicas_prefix_(options_.prefix + "replicas/") {}

LeaderElection::~LeaderElection() { Stop(); }

void LeaderElection::Start(const std::string& self_address) {
  {
    absl::MutexLock lock(&mu_);
    self_ = self_address;
  }
  keepalive_thread_ = std::thread([this] { RunKeepAlive(); });
  observer_thread_ = std::thread([this] { RunObserver(); });
  election_thread_ = std::thread([this] { RunElection(); });
}

void LeaderElection::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  {
    absl::MutexLock lock(&mu_);
    if (campaign_context_ != nullptr) campaign_context_->TryCancel();
    if (observe_context_ != nullptr) observe_context_->TryCancel();
  }
  if (election_thread_.joinable()) election_thread_.join();
  if (keepalive_thread_.joinable()) keepalive_thread_.join();
  if (observer_thread_.joinable()) observer_thread_.join();
}

void LeaderElection::RunElection() {
  while (!stop_.HasBeenNotified()) {
    // A fresh lease for each leadership (and after a lost one).
    const absl::Time granting = absl::Now();
    absl::StatusOr<int64_t> lease = client_.LeaseGrant(options_.lease_ttl);
    if (options_.on_reachability) options_.on_reachability(lease.status());
    if (!lease.ok()) {
      Sleep(kRetry);
      continue;
    }
    std::string self;
    {
      absl::MutexLock lock(&mu_);
      lease_ = *lease;
      lease_lost_ = false;
      lease_valid_until_ = granting + options_.lease_ttl;
      unanswered_sent_ = absl::InfinitePast();
      self = self_;
    }
    etcdserverpb::PutRequest replica;
    replica.set_key(replicas_prefix_ + self);
    replica.set_value(options_.version);
    replica.set_lease(*lease);
    if (absl::StatusOr<etcdserverpb::PutResponse> put = client_.Put(replica); !put.ok()) {
      spdlog::warn("cannot register this replica in etcd: {}", std::string(put.status().message()));
    }

    // Campaign until elected, the lease is lost, or stopping.
    std::optional<v3electionpb::LeaderKey> won;
    while (!stop_.HasBeenNotified()) {
      grpc::ClientContext context;
      {
        absl::MutexLock lock(&mu_);
        if (lease_lost_ || stop_.HasBeenNotified()) break;
        campaign_context_ = &context;
      }
      absl::StatusOr<v3electionpb::LeaderKey> key =
          client_.Campaign(context, election_name_, *lease, self);
      {
        absl::MutexLock lock(&mu_);
        campaign_context_ = nullptr;
      }
      if (key.ok()) {
        won = *key;
        break;
      }
      if (!stop_.HasBeenNotified()) {
        spdlog::debug("campaign: {}", std::string(key.status().message()));
        Sleep(kRetry);
      }
    }
    if (!won) {
      if (stop_.HasBeenNotified()) {
        client_.LeaseRevoke(*lease).IgnoreError();
        break;
      }
      continue;  // the lease was lost: a new one
    }

    const uint64_t term = static_cast<uint64_t>(won->rev());
    if (options_.on_elected) {
      if (absl::Status s = options_.on_elected(term, won->key()); !s.ok()) {
        spdlog::error("elected (term {}) but cannot lead: {}; giving the leadership up", term,
                      std::string(s.message()));
        client_.Resign(*won).IgnoreError();
        client_.LeaseRevoke(*lease).IgnoreError();
        Sleep(kRetry);
        continue;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      leading_ = true;
      term_ = term;
      leader_key_ = *won;
    }
    spdlog::info("leading the control plane (term {})", term);

    // Lead until the lease is gone or stopping.
    {
      absl::MutexLock lock(&mu_);
      auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return lease_lost_ || stop_.HasBeenNotified();
      };
      while (!done()) mu_.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(100));
      leading_ = false;
    }
    if (stop_.HasBeenNotified()) {
      spdlog::info("stopping: giving the leadership up (term {})", term);
    } else {
      spdlog::warn("lost the leadership (term {}): the lease is gone; following", term);
    }
    if (options_.on_deposed) options_.on_deposed();
    if (stop_.HasBeenNotified()) {
      client_.Resign(*won).IgnoreError();
      client_.LeaseRevoke(*lease).IgnoreError();
      break;
    }
  }
}

void LeaderElection::RunKeepAlive() {
  while (!stop_.HasBeenNotified()) {
    int64_t lease;
    absl::Time valid_until;
    {
      absl::MutexLock lock(&mu_);
      lease = lease_lost_ ? 0 : lease_;
      valid_until = lease_valid_until_;
    }
    // Renew three times a TTL; faster once the deadline is near or past.
    const absl::Duration interval = options_.lease_ttl / 3;
    if (lease == 0) {
      if (Sleep(absl::Milliseconds(50))) break;
      continue;
    }
    const absl::Time sent = absl::Now();
    absl::StatusOr<absl::Duration> left =
        client_.LeaseKeepAliveOnce(lease, std::min(interval, absl::Seconds(1)));
    if (options_.on_reachability) options_.on_reachability(left.status());
    {
      absl::MutexLock lock(&mu_);
      if (lease != lease_) continue;  // a new lease meanwhile
      if (left.ok() && *left > absl::ZeroDuration()) {
        lease_valid_until_ = std::max(lease_valid_until_, sent + *left);
      } else if (left.ok() || absl::IsNotFound(left.status())) {
        if (!lease_lost_) spdlog::warn("etcd says the lease of this replica is gone");
        lease_lost_ = true;
        if (campaign_context_ != nullptr) campaign_context_->TryCancel();
      } else {
        unanswered_sent_ = sent;
      }
    }
    const absl::Duration until_deadline = valid_until - absl::Now();
    if (Sleep(until_deadline < interval ? absl::Milliseconds(100) : interval)) break;
  }
}

void LeaderElection::RunObserver() {
  while (!stop_.HasBeenNotified()) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stop_.HasBeenNotified()) break;
      observe_context_ = &context;
    }
    auto stream = client_.Observe(context, election_name_);
    v3electionpb::LeaderResponse response;
    while (stream->Read(&response)) {
      absl::MutexLock lock(&mu_);
      if (observed_leader_ != response.kv().value()) {
        spdlog::info("the leader is {} (term {})", response.kv().value(),
                     response.kv().create_revision());
      }
      observed_leader_ = response.kv().value();
    }
    stream->Finish();
    {
      absl::MutexLock lock(&mu_);
      observe_context_ = nullptr;
    }
    Sleep(kRetry);
  }
}

bool LeaderElection::leading() const {
  absl::MutexLock lock(&mu_);
  return leading_;
}

uint64_t LeaderElection::term() const {
  absl::MutexLock lock(&mu_);
  return term_;
}

std::optional<uint64_t> LeaderElection::PushTerm(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (!leading_ || lease_lost_) return std::nullopt;
  if (now < lease_valid_until_) return term_;
  // The lease may have run out. Go on only once a renewal sent after the
  // deadline went unanswered: etcd cannot elect anyone else either.
  if (unanswered_sent_ >= lease_valid_until_) return term_;
  return std::nullopt;
}

std::string LeaderElection::leader_address() const {
  absl::MutexLock lock(&mu_);
  if (leading_) return self_;
  // What the observer saw last may be this replica, deposed: unknown then.
  return observed_leader_ == self_ ? "" : observed_leader_;
}

std::string LeaderElection::self_address() const {
  absl::MutexLock lock(&mu_);
  return self_;
}

std::vector<v1::Replica> LeaderElection::Replicas() const {
  const std::string leader = leader_address();
  std::vector<v1::Replica> out;
  etcdserverpb::RangeRequest request;
  request.set_key(replicas_prefix_);
  request.set_range_end(PrefixEnd(replicas_prefix_));
  absl::StatusOr<etcdserverpb::RangeResponse> response = client_.Range(request);
  if (response.ok()) {
    for (const mvccpb::KeyValue& kv : response->kvs()) {
      v1::Replica r;
      r.set_address(kv.key().substr(replicas_prefix_.size()));
      r.set_version(kv.value());
      r.set_leader(r.address() == leader);
      out.push_back(std::move(r));
    }
  } else {
    // etcd does not answer: what this replica knows.
    v1::Replica self;
    self.set_address(self_address());
    self.set_version(options_.version);
    self.set_leader(self.address() == leader);
    out.push_back(std::move(self));
  }
  return out;
}

std::vector<v1::EtcdEndpoint> LeaderElection::EtcdEndpoints() const {
  std::vector<v1::EtcdEndpoint> out;
  for (const EtcdEndpointHealth& h : client_.EndpointHealth(absl::Milliseconds(500))) {
    v1::EtcdEndpoint e;
    e.set_endpoint(h.endpoint);
    e.set_healthy(h.healthy);
    e.set_version(h.version);
    e.set_has_leader(h.has_leader);
    e.set_error(h.error);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace canopy::controller
