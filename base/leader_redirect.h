#ifndef CANOPY_BASE_LEADER_REDIRECT_H_
#define CANOPY_BASE_LEADER_REDIRECT_H_

#include <optional>
#include <string>
#include <vector>

#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace canopy {

// Controller replicas (canopy-controller --etcd): only the leader serves.
// A follower answers every call with FAILED_PRECONDITION whose message names
// the leader and whose trailing metadata kLeaderMetadataKey holds its
// HOST:PORT; while nobody is known to lead it answers UNAVAILABLE.
inline constexpr char kLeaderMetadataKey[] = "canopy-leader";
// Every follower's refusal (leader known or not) also carries
// kFollowerMetadataKey with the follower's own HOST:PORT, so a client can
// tell a live replica waiting for an election from a controller that is
// down.
inline constexpr char kFollowerMetadataKey[] = "canopy-follower";

// Server side: the answer of a replica at `self` that does not lead, with
// the metadata added to `context` when `leader` is known (not "").
grpc::Status NotLeader(grpc::ServerContextBase& context, const std::string& self,
                       const std::string& leader);

// Client side: the leader a call was sent to when it ended with `status`
// (a follower's FAILED_PRECONDITION with the metadata); nullopt otherwise.
// REQUIRES: the call has finished.
std::optional<std::string> RedirectedTo(const grpc::ClientContext& context,
                                        const grpc::Status& status);

// Client side: whether a finished call was refused by a live follower
// (kFollowerMetadataKey), with or without a leader to name. A node that
// only hears followers while an election is under way retries promptly
// instead of backing off as from a dead controller.
// REQUIRES: the call has finished.
bool RefusedByFollower(const grpc::ClientContext& context);

// The controller addresses a client was given (--controller A,B,C) and the
// one it tries now: it starts with the first, follows a redirect to the
// leader, and otherwise moves on to the next given address.
//
// Thread-compatible.
class ControllerAddresses {
 public:
  // REQUIRES: `given` is not empty.
  explicit ControllerAddresses(std::vector<std::string> given);

  // The address to call now.
  const std::string& current() const { return current_; }
  // Every given address, comma-separated (for messages).
  std::string given() const;

  // The call to current() failed. With `leader` (RedirectedTo), the next
  // call goes there; else to the next given address. Returns false once
  // every given address failed since the last success (a full round), so
  // the caller can back off or give up.
  bool Advance(const std::optional<std::string>& leader);
  // The call to current() succeeded: a new round starts from it.
  void Succeeded();

 private:
  const std::vector<std::string> given_;
  size_t next_ = 0;  // index of the next given address to try
  size_t failed_in_round_ = 0;
  size_t redirects_in_round_ = 0;
  std::string current_;
};

}  // namespace canopy

#endif  // CANOPY_BASE_LEADER_REDIRECT_H_
