#ifndef CANOPY_TESTS_TESTING_HTTP_CLIENT_H_
#define CANOPY_TESTS_TESTING_HTTP_CLIENT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace canopy::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// An HTTP/1.1 client for tests on Boost.Beast (as the /metrics server is):
// sends one request (`method` `path`, Connection: close) to "HOST:PORT"
// (numeric IPv4 host) and reads one response. Fails on a connection error, a
// malformed response (Beast's parser: bad status line or header, a body
// shorter than its Content-Length), or after `timeout` for the whole
// exchange. Thread-safe (each call has its own I/O context).
absl::StatusOr<HttpResponse> HttpRequest(const std::string& host_port, const std::string& method,
                                         const std::string& path, absl::Duration timeout);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_TESTING_HTTP_CLIENT_H_
