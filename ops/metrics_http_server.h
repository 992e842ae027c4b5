#ifndef CANOPY_OPS_METRICS_HTTP_SERVER_H_
#define CANOPY_OPS_METRICS_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/address.h"

namespace canopy::ops {

struct MetricsHttpServerOptions {
  // Connections served at once; one more is closed as soon as it is
  // accepted.
  int max_connections = 16;
  // Largest request header (and body) accepted; a larger request gets 400.
  size_t max_request_bytes = 8 * 1024;
  // Time to receive one whole request, also the idle limit of a kept-alive
  // connection; then the connection is closed.
  absl::Duration read_timeout = absl::Seconds(10);
  // Time to send one response; then the connection is closed.
  absl::Duration write_timeout = absl::Seconds(10);
};

// A small HTTP/1.1 server (Boost.Beast) for Prometheus scrapes on its own
// port: GET or HEAD /metrics answers 200 with `render()` as
// "text/plain; version=0.0.4"; any other path gets 404, any other method
// 405, a malformed or oversized request 400 (and the connection is closed).
// Network input never crashes or blocks it: requests are size- and
// time-bounded and connections are limited.
//
// Thread-safe. I/O and render() run on one internal thread.
class MetricsHttpServer {
 public:
  // `render` returns the exposition text; it runs on the server's thread.
  MetricsHttpServer(MetricsHttpServerOptions options, std::function<std::string()> render);
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  // Stops the server.
  ~MetricsHttpServer();

  // Binds `address` (port 0 = any free port), starts the I/O thread and
  // returns the bound address. InvalidArgument if the host does not
  // resolve, Unavailable if it cannot listen, FailedPrecondition if already
  // started. REQUIRES: called at most once.
  absl::StatusOr<HostPort> Start(const HostPort& address);

  // Closes the listener and every connection and joins the thread.
  // Idempotent.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts `server` for a program's --metrics-listen flag and returns the
// " metrics=HOST:PORT" field of its listening line. If `address` is only
// the default (`given_explicitly` false) and cannot be bound — several
// programs on one host — it logs a warning and returns "": the program runs
// without /metrics. An explicitly given address that cannot be bound is an
// error.
absl::StatusOr<std::string> StartMetricsEndpoint(MetricsHttpServer& server, const HostPort& address,
                                                 bool given_explicitly);

}  // namespace canopy::ops

#endif  // CANOPY_OPS_METRICS_HTTP_SERVER_H_
