// The Node service on a real in-process gRPC server, with a real relay and
// client-link server but no controller (the test hands the node its
// policies): what it refuses, what it counts, and that a publisher's
// messages reach a local subscriber even before any tree exists.

#include "node/client_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "canopy/v1/node.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "node/forwarding_state.h"
#include "node/local_clients.h"
#include "node/relay.h"
#include "tests/testing/poll.h"
#include "wire/client_link_server.h"

namespace canopy::node {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

class ClientServiceTest : public ::testing::Test {
 protected:
  // Starts the service with `options` (node id "n1"; tree_wait 100 ms),
  // holding the controller's (empty) policies unless `with_policies` is
  // false (then a publisher is refused: a node fails closed).
  void Start(ClientServiceOptions options, bool with_policies = true) {
    if (with_policies) state_.ApplyPolicies(v1::PolicyUpdate());
    RelayOptions relay_options;
    relay_options.node_id = "n1";
    relay_ = std::make_unique<Relay>(relay_options, state_, clients_);
    ASSERT_TRUE(relay_->Start(wire::Endpoint{"127.0.0.1", 0}).ok());
    auto links = wire::ClientLinkServer::Open(wire::Endpoint{"127.0.0.1", 0}, nullptr);
    ASSERT_TRUE(links.ok()) << links.status();
    links_ = *std::move(links);
    options.node_id = "n1";
    options.tree_wait = absl::Milliseconds(100);
    service_ = std::make_unique<ClientService>(options, state_, clients_, *relay_, *links_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Node::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                  grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    if (links_) links_->Stop();
    if (relay_) relay_->Stop();
  }

  // An open subscription of group `group` (everyone admitted).
  struct Subscription {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::Delivery>> reader;
  };
  std::unique_ptr<Subscription> Subscribe(const std::string& group) {
    auto s = std::make_unique<Subscription>();
    s->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::SubscribeRequest request;
    request.set_group(group);
    request.mutable_filter()->set_mode(v1::FILTER_MODE_EXCLUDE);
    request.set_member("test");
    s->reader = stub_->Subscribe(&s->context, request);
    return s;
  }

  // Publishes `payloads` as `source` on `group`; the call's status and summary.
  grpc::Status Publish(const std::string& group, const std::string& source,
                       const std::vector<std::string>& payloads, v1::PublishSummary* summary) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto writer = stub_->Publish(&context, summary);
    for (const std::string& payload : payloads) {
      v1::Publication p;
      p.set_group(group);
      p.set_source(source);
      p.set_payload(payload);
      if (!writer->Write(p)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  ForwardingState state_;
  LocalClients clients_{[] {}};
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<wire::ClientLinkServer> links_;
  std::unique_ptr<ClientService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Node::Stub> stub_;
};

TEST_F(ClientServiceTest, AMalformedGroupIsRefusedWithItsReason) {
  Start({});
  std::unique_ptr<Subscription> s = Subscribe("no spaces allowed");
  v1::Delivery d;
  EXPECT_FALSE(s->reader->Read(&d));
  const grpc::Status status = s->reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("group"), std::string::npos) << status.error_message();
}

TEST_F(ClientServiceTest, SubscriptionsOverTheLimitAreRefusedCountedAndFreedOnLeave) {
  ClientServiceOptions options;
  options.max_subscriptions = 1;
  Start(options);
  std::unique_ptr<Subscription> first = Subscribe("g");
  ASSERT_TRUE(testing::PollUntil([&] { return service_->subscriptions() == 1; }, kWait));

  std::unique_ptr<Subscription> second = Subscribe("g");
  v1::Delivery d;
  EXPECT_FALSE(second->reader->Read(&d));
  EXPECT_EQ(second->reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(service_->refusals().subscriptions, 1u);

  first->context.TryCancel();  // the leave
  first->reader->Finish();
  ASSERT_TRUE(testing::PollUntil([&] { return service_->subscriptions() == 0; }, kWait));
  std::unique_ptr<Subscription> third = Subscribe("g");
  EXPECT_TRUE(testing::PollUntil([&] { return service_->subscriptions() == 1; }, kWait))
      << "the slot the leave freed is taken again";
  third->context.TryCancel();
  third->reader->Finish();
}

TEST_F(ClientServiceTest, PublishersAreRefusedUntilTheControllerSentPolicies) {
  Start({}, /*with_policies=*/false);
  v1::PublishSummary summary;
  const grpc::Status refused = Publish("g", "s", {"x"}, &summary);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find("policy"), std::string::npos) << refused.error_message();
  EXPECT_EQ(summary.messages(), 0u);
  state_.ApplyPolicies(v1::PolicyUpdate());  // the controller's (empty) policies arrive
  EXPECT_TRUE(Publish("g", "s", {"x"}, &summary).ok());
}

TEST_F(ClientServiceTest, PublishersWithBadNamesOrOversizedMessagesAreRefused) {
  ClientServiceOptions options;
  options.max_payload = 1024;
  Start(options);
  v1::PublishSummary summary;
  EXPECT_EQ(Publish("g", "bad source", {"x"}, &summary).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Publish("bad group", "s", {"x"}, &summary).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status oversized = Publish("g", "s", {std::string(2048, 'x')}, &summary);
  EXPECT_EQ(oversized.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(oversized.error_message().find("1024"), std::string::npos) << oversized.error_message();
}

TEST_F(ClientServiceTest, PublishersOverTheLimitAreRefusedAndCounted) {
  ClientServiceOptions options;
  options.max_publishers = 1;
  Start(options);
  // Two publishers open at once, each holding its stream open: whichever
  // the node admits first keeps the one slot, the other is refused.
  struct Held {
    grpc::ClientContext context;
    v1::PublishSummary summary;
    std::unique_ptr<grpc::ClientWriter<v1::Publication>> writer;
  };
  Held held[2];
  for (int i = 0; i < 2; ++i) {
    held[i].writer = stub_->Publish(&held[i].context, &held[i].summary);
    v1::Publication open;
    open.set_group("g");
    open.set_source("s" + std::to_string(i));
    open.set_payload("first");
    held[i].writer->Write(open);  // may fail once the node refused the call
  }
  ASSERT_TRUE(testing::PollUntil([&] { return service_->refusals().publishers == 1; }, kWait));
  int admitted = 0, refused = 0;
  for (Held& h : held) {
    h.writer->WritesDone();
    const grpc::Status status = h.writer->Finish();
    if (status.ok()) {
      ++admitted;
      EXPECT_EQ(h.summary.messages(), 1u);
    } else {
      ++refused;
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << status.error_message();
    }
  }
  EXPECT_EQ(admitted, 1);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(service_->refusals().publishers, 1u);
}

TEST_F(ClientServiceTest, ALocalSubscriberGetsMessagesBeforeAnyTreeExists) {
  Start({});
  std::unique_ptr<Subscription> s = Subscribe("g");
  ASSERT_TRUE(testing::PollUntil([&] { return service_->subscriptions() == 1; }, kWait));
  v1::PublishSummary summary;
  const grpc::Status published = Publish("g", "s", {"one", "two", "three"}, &summary);
  ASSERT_TRUE(published.ok()) << published.error_message();
  EXPECT_EQ(summary.messages(), 3u);
  std::vector<std::string> got;
  std::vector<uint64_t> sequences;
  v1::Delivery d;
  while (got.size() < 3 && s->reader->Read(&d)) {
    if (!d.has_message()) continue;  // joined or status events
    EXPECT_EQ(d.message().source(), "s");
    got.push_back(d.message().payload());
    sequences.push_back(d.message().sequence());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(sequences, (std::vector<uint64_t>{1, 2, 3}));
  s->context.TryCancel();
  s->reader->Finish();
}

}  // namespace
}  // namespace canopy::node
