#include "canopy/subscriber.h"

#include <algorithm>
#include <deque>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "canopy/v1/node.grpc.pb.h"
#include "proto/address.h"
#include "proto/validation.h"
#include "src/status_conversion.h"

namespace canopy {
namespace {

// A reader thread moves deliveries into a small queue; when the queue is
// full it stops reading, so gRPC flow control pushes back to the node.
class GrpcSubscriber final : public Subscriber {
 public:
  GrpcSubscriber(const SubscriberOptions& options, std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::Node::NewStub(std::move(channel))) {
    v1::SubscribeRequest request;
    request.set_group(options.group);
    request.mutable_filter()->set_mode(
        options.mode == FilterMode::kInclude ? v1::FILTER_MODE_INCLUDE : v1::FILTER_MODE_EXCLUDE);
    for (const std::string& s : options.sources) request.mutable_filter()->add_sources(s);
    reader_ = stub_->Subscribe(&context_, request);
    thread_ = std::thread([this] { ReadLoop(); });
  }

  ~GrpcSubscriber() override {
    Cancel();
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
    }
    thread_.join();
  }

  absl::Status WaitJoined(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto decided = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return joined_ || ended_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&decided), timeout)) {
      return absl::DeadlineExceededError("the node did not confirm the join in time");
    }
    return joined_ ? absl::OkStatus() : end_status_;
  }

  absl::StatusOr<ReceivedMessage> Next() override {
    absl::MutexLock lock(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !pending_.empty() || ended_; };
    mu_.Await(absl::Condition(&ready));
    if (pending_.empty()) return end_status_;
    ReceivedMessage m = std::move(pending_.front());
    pending_.pop_front();
    return m;
  }

  void Cancel() override { context_.TryCancel(); }

 private:
  static constexpr size_t kMaxPending = 256;

  void ReadLoop() {
    v1::Delivery d;
    while (reader_->Read(&d)) {
      absl::MutexLock lock(&mu_);
      if (d.has_joined()) {
        joined_ = true;
      } else if (d.has_message()) {
        v1::Message* m = d.mutable_message();
        uint64_t& last = last_sequence_[m->source()];
        const uint64_t missed = last != 0 && m->sequence() > last + 1 ? m->sequence() - last - 1 : 0;
        last = std::max(last, m->sequence());
        pending_.push_back(ReceivedMessage{std::move(*m->mutable_group()),
                                           std::move(*m->mutable_source()), m->sequence(),
                                           std::move(*m->mutable_payload()), missed});
      }
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return pending_.size() < kMaxPending || closing_;
      };
      mu_.Await(absl::Condition(&room));
    }
    absl::Status status = FromGrpc(reader_->Finish());
    absl::MutexLock lock(&mu_);
    end_status_ = status.ok() ? absl::UnavailableError("the node ended the stream") : status;
    ended_ = true;
  }

  std::unique_ptr<v1::Node::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Delivery>> reader_;
  std::thread thread_;

  absl::Mutex mu_;
  std::deque<ReceivedMessage> pending_ ABSL_GUARDED_BY(mu_);
  // Highest sequence seen per source, to count what was lost in between.
  std::map<std::string, uint64_t> last_sequence_ ABSL_GUARDED_BY(mu_);
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Subscriber>> Subscriber::Open(SubscriberOptions options) {
  if (auto a = ParseHostPort(options.node_address); !a.ok()) return a.status();
  if (absl::Status s = ValidateGroupName(options.group); !s.ok()) return s;
  v1::SourceFilter filter;
  for (const std::string& s : options.sources) filter.add_sources(s);
  if (absl::Status s = ValidateFilter(filter); !s.ok()) return s;
  if (options.mode == FilterMode::kInclude && options.sources.empty()) {
    return absl::InvalidArgumentError("an INCLUDE filter needs at least one source");
  }
  return std::unique_ptr<Subscriber>(
      new GrpcSubscriber(options, CreateNodeChannel(options.node_address)));
}

}  // namespace canopy
