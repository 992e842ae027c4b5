#ifndef CANOPY_TESTS_WIRE_LINK_SERVER_FIXTURE_H_
#define CANOPY_TESTS_WIRE_LINK_SERVER_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "wire/client_link.h"
#include "wire/client_link_server.h"

namespace canopy::wire::testing {

// A node's client-link server on loopback, and a way to wait for what an
// offer brings.
class LinkServerFixture {
 public:
  // `local_ring_bytes` > 0 also serves local (shared-memory) links.
  explicit LinkServerFixture(std::shared_ptr<TlsContext> tls = nullptr,
                             size_t local_ring_bytes = 0) {
    auto server = ClientLinkServer::Open(Endpoint{"127.0.0.1", 0}, std::move(tls), local_ring_bytes);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  ~LinkServerFixture() { server_.reset(); }

  ClientLinkServer& server() { return *server_; }
  Endpoint at() const { return server_->bound(); }

  // What one offer brought.
  struct Outcome {
    absl::Mutex mu;
    std::optional<absl::StatusOr<std::shared_ptr<Connection>>> link ABSL_GUARDED_BY(mu);
    // Waits until it came (or `timeout` passed: DeadlineExceeded).
    absl::StatusOr<std::shared_ptr<Connection>> Await(absl::Duration timeout) {
      absl::MutexLock lock(&mu);
      auto came = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return link.has_value(); };
      if (!mu.AwaitWithTimeout(absl::Condition(&came), timeout)) {
        return absl::DeadlineExceededError("the test waited too long");
      }
      return *link;
    }
  };
  // Offers a link for `token` (for `peer_der` with TLS) open for `open_for`.
  std::shared_ptr<Outcome> Offer(const std::string& token, std::string peer_der = "",
                                 absl::Duration open_for = absl::Seconds(10)) {
    auto outcome = std::make_shared<Outcome>();
    server_->Offer(token, std::move(peer_der), absl::Now() + open_for,
                   [outcome](absl::StatusOr<std::shared_ptr<Connection>> link) {
                     absl::MutexLock lock(&outcome->mu);
                     outcome->link = std::move(link);
                   });
    return outcome;
  }

 private:
  std::unique_ptr<ClientLinkServer> server_;
};

}  // namespace canopy::wire::testing

#endif  // CANOPY_TESTS_WIRE_LINK_SERVER_FIXTURE_H_
