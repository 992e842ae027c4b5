#include "canopy/subscriber.h"

#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "base/address.h"
#include "canopy/v1/node.grpc.pb.h"
#include "proto/validation.h"
#include "src/delivery_queue.h"
#include "src/link_subscriber.h"
#include "src/node_channel.h"
#include "src/subscribe_request.h"

namespace canopy {
namespace {

// Messages arrive inside the gRPC stream. A reader thread moves them into
// the delivery queue; when it is full the thread stops reading, so gRPC
// flow control pushes back to the node.
class GrpcSubscriber final : public Subscriber {
 public:
  GrpcSubscriber(const SubscriberOptions& options, std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)),
        stub_(v1::Node::NewStub(channel_)),
        address_(options.node_address),
        queue_(options.group, options.on_source_status) {
    reader_ = stub_->Subscribe(&context_, MakeSubscribeRequest(options, /*frame_link=*/false));
    thread_ = std::thread([this] { ReadLoop(); });
  }

  ~GrpcSubscriber() override {
    Cancel();
    queue_.Close();
    thread_.join();
  }

  absl::Status WaitJoined(absl::Duration timeout) override { return queue_.WaitJoined(timeout); }
  absl::StatusOr<ReceivedMessage> Next(absl::Duration timeout) override {
    return queue_.Next(timeout);
  }
  void Cancel() override { context_.TryCancel(); }
  absl::Status RequestResend(const std::string&, uint64_t, uint64_t) override {
    return absl::UnimplementedError("resends need the client-link transport");
  }

 private:
  void ReadLoop() {
    v1::Delivery d;
    bool left_early = false;
    while (!left_early && reader_->Read(&d)) {
      if (d.has_joined()) {
        queue_.MarkJoined();
      } else if (d.has_status()) {
        queue_.Status({d.status().source(), d.status().reachable(), d.status().reason()});
      } else if (d.has_message()) {
        v1::Message* m = d.mutable_message();
        left_early = !queue_.Push(std::move(*m->mutable_source()), m->sequence(),
                                  std::move(*m->mutable_payload()));
      }
    }
    // Only a call left early is cancelled: cancelling one the node ended
    // would replace the node's status with CANCELLED.
    if (left_early) context_.TryCancel();
    queue_.End(NodeCallStatus(reader_->Finish(), channel_, address_));
  }

  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> stub_;
  const std::string address_;
  grpc::ClientContext context_;
  DeliveryQueue queue_;
  std::unique_ptr<grpc::ClientReader<v1::Delivery>> reader_;
  std::thread thread_;
};

// "HOST:PID", in the characters a member name may have.
std::string DefaultMemberName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "host");
  const std::string pid = absl::StrCat(":", getpid());
  std::string name;
  for (const char* c = host; *c != '\0' && name.size() + pid.size() < kMaxIdBytes; ++c) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(*c)) ||
                    absl::string_view("._-").find(*c) != absl::string_view::npos;
    name.push_back(ok ? *c : '_');
  }
  return name + pid;
}

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
  if (options.member.empty()) options.member = DefaultMemberName();
  if (absl::Status s = ValidateMemberName(options.member); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateNodeChannel(options.node_address, options.tls);
  if (!channel.ok()) return channel.status();
  if (options.transport != Transport::kGrpcStream) {
    return OpenLinkSubscriber(options, *std::move(channel));
  }
  return std::unique_ptr<Subscriber>(new GrpcSubscriber(options, *std::move(channel)));
}

}  // namespace canopy
