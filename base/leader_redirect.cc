#include "base/leader_redirect.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace canopy {
namespace {

// Redirects followed in a row before the next given address is tried (two
// replicas that each name the other, during an election).
constexpr size_t kMaxRedirects = 3;

}  // namespace

grpc::Status NotLeader(grpc::ServerContextBase& context, const std::string& self,
                       const std::string& leader) {
  context.AddTrailingMetadata(kFollowerMetadataKey, self);
  if (leader.empty()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the controller at ", self,
                                     " does not lead and no leader is known yet (an election is "
                                     "under way); try again"));
  }
  context.AddTrailingMetadata(kLeaderMetadataKey, leader);
  return grpc::Status(
      grpc::StatusCode::FAILED_PRECONDITION,
      absl::StrCat("the controller at ", self, " is a follower; the leader is at ", leader));
}

std::optional<std::string> RedirectedTo(const grpc::ClientContext& context,
                                        const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return std::nullopt;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kLeaderMetadataKey);
  if (it == trailers.end() || it->second.empty()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

bool RefusedByFollower(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  return trailers.find(kFollowerMetadataKey) != trailers.end();
}

ControllerAddresses::ControllerAddresses(std::vector<std::string> given)
    : given_(std::move(given)), next_(1 % given_.size()), current_(given_.front()) {}

std::string ControllerAddresses::given() const { return absl::StrJoin(given_, ","); }

bool ControllerAddresses::Advance(const std::optional<std::string>& leader) {
  if (leader && *leader != current_ && redirects_in_round_ < kMaxRedirects) {
    ++redirects_in_round_;
    current_ = *leader;
    return true;
  }
  redirects_in_round_ = 0;
  current_ = given_[next_];
  next_ = (next_ + 1) % given_.size();
  return ++failed_in_round_ < given_.size();
}

void ControllerAddresses::Succeeded() {
  failed_in_round_ = 0;
  redirects_in_round_ = 0;
}

}  // namespace canopy
