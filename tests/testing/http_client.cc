#include "tests/testing/http_client.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/address.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address_v4.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace canopy::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;

absl::StatusOr<HttpResponse> HttpRequest(const std::string& host_port, const std::string& method,
                                         const std::string& path, absl::Duration timeout) {
  absl::StatusOr<HostPort> address = ParseHostPort(host_port);
  if (!address.ok()) return address.status();
  boost::system::error_code ec;
  const boost::asio::ip::address_v4 ip = boost::asio::ip::make_address_v4(address->host, ec);
  if (ec) return absl::InvalidArgumentError("not an IPv4 address: " + address->host);

  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  // One deadline for connect, write and read together.
  stream.expires_after(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  http::request<http::empty_body> request;
  request.method_string(method);
  request.target(path);
  request.version(11);
  request.set(http::field::host, host_port);
  request.set(http::field::user_agent, "canopy-test");
  request.set(http::field::connection, "close");
  http::response_parser<http::string_body> parser;
  parser.skip(method == "HEAD");  // a HEAD response has no body whatever its length
  beast::flat_buffer buffer;
  absl::Status result = absl::OkStatus();
  auto failed = [&](const char* step, const boost::system::error_code& error) {
    result =
        error == beast::error::timeout
            ? absl::DeadlineExceededError(absl::StrCat(step, " ", host_port, ": timed out"))
            : absl::UnavailableError(absl::StrCat(step, " ", host_port, ": ", error.message()));
  };
  stream.async_connect(
      boost::asio::ip::tcp::endpoint(ip, address->port), [&](boost::system::error_code error) {
        if (error) return failed("connect", error);
        http::async_write(stream, request, [&](boost::system::error_code error, size_t) {
          if (error) return failed("write", error);
          http::async_read(stream, buffer, parser, [&](boost::system::error_code error, size_t) {
            if (error) failed("read", error);
          });
        });
      });
  io.run();
  if (!result.ok()) return result;

  const http::response<http::string_body>& message = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
        std::string(field.value());
  }
  response.body = message.body();
  return response;
}

}  // namespace canopy::testing
