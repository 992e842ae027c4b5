#ifndef CANOPY_TESTS_SYSTEM_HTTP_CLIENT_H_
#define CANOPY_TESTS_SYSTEM_HTTP_CLIENT_H_

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

// A minimal HTTP/1.1 client for tests: sends one request (`method` `path`,
// Connection: close) to "HOST:PORT" (IPv4 numeric host) and reads the
// response until the server closes. Fails on a connection error, a malformed
// response, a Content-Length that does not match the body, or after
// `timeout`.
absl::StatusOr<HttpResponse> HttpRequest(const std::string& host_port, const std::string& method,
                                         const std::string& path, absl::Duration timeout);

}  // namespace canopy::testing

#endif  // CANOPY_TESTS_SYSTEM_HTTP_CLIENT_H_
