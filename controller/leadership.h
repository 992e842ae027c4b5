#ifndef CANOPY_CONTROLLER_LEADERSHIP_H_
#define CANOPY_CONTROLLER_LEADERSHIP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "canopy/v1/controller.pb.h"

namespace canopy::controller {

// Whether this controller leads the control plane, and who does.
// A controller with its own SQLite store always leads (SoleLeadership);
// replicas on etcd lead by election (leader_election.h).
//
// Implementations are thread-safe.
class Leadership {
 public:
  virtual ~Leadership() = default;

  // True while this controller leads.
  virtual bool leading() const = 0;
  // The term of this controller's leadership (0 without etcd; meaningless
  // while not leading).
  virtual uint64_t term() const = 0;
  // The term if this controller leads and may send nodes instructions at
  // `now`; nullopt if it may not (it does not lead, or its lease ran out
  // and etcd has not yet said whether it still leads). The one check
  // before every table the core pushes.
  virtual std::optional<uint64_t> PushTerm(absl::Time now) const = 0;
  // HOST:PORT of the leader: this controller's when it leads; "" while
  // nobody is known to lead.
  virtual std::string leader_address() const = 0;
  // HOST:PORT of this controller (canopy-controller --advertise).
  virtual std::string self_address() const = 0;

  // The replicas and the etcd endpoints' health, for ControllerStatus. May
  // call etcd (bounded by its call timeout): never under a lock.
  virtual std::vector<v1::Replica> Replicas() const = 0;
  virtual std::vector<v1::EtcdEndpoint> EtcdEndpoints() const = 0;
};

// The one controller of a deployment without etcd: always leads, term 0.
//
// Thread-safe.
class SoleLeadership final : public Leadership {
 public:
  explicit SoleLeadership(std::string version) : version_(std::move(version)) {}

  // The address this controller serves on, once it is bound.
  void set_self_address(std::string address) {
    absl::MutexLock lock(&mu_);
    self_ = std::move(address);
  }

  bool leading() const override { return true; }
  uint64_t term() const override { return 0; }
  std::optional<uint64_t> PushTerm(absl::Time) const override { return 0; }
  std::string leader_address() const override { return self_address(); }
  std::string self_address() const override {
    absl::MutexLock lock(&mu_);
    return self_;
  }
  std::vector<v1::Replica> Replicas() const override {
    v1::Replica self;
    self.set_address(self_address());
    self.set_leader(true);
    self.set_version(version_);
    return {self};
  }
  std::vector<v1::EtcdEndpoint> EtcdEndpoints() const override { return {}; }

 private:
  const std::string version_;
  mutable absl::Mutex mu_;
  std::string self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace canopy::controller

#endif  // CANOPY_CONTROLLER_LEADERSHIP_H_
