#include "ops/metrics_http_server.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "ops/exposition.h"
#include "spdlog/spdlog.h"

namespace canopy::ops {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// One client connection: read a request, answer it, repeat while the client
// keeps the connection alive. Owned by its pending handlers.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const MetricsHttpServerOptions& options,
             const std::function<std::string()>& render, std::atomic<int>& active)
      : stream_(std::move(socket)), options_(options), render_(render), active_(active) {}
  ~Connection() { active_.fetch_sub(1); }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_.max_request_bytes));
    parser_->body_limit(options_.max_request_bytes);
    buffer_.clear();
    stream_.expires_after(ToChrono(options_.read_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      Close();
      return;
    }
    if (ec) {  // malformed or too large
      Respond(http::status::bad_request, "bad request\n", 11, /*keep_alive=*/false,
              /*head=*/false);
      return;
    }
    const http::request<http::string_body>& request = parser_->get();
    const std::string target(request.target());
    const std::string path = target.substr(0, target.find('?'));
    const bool head = request.method() == http::verb::head;
    if (path != "/metrics") {
      Respond(http::status::not_found, "not found; try /metrics\n", request.version(),
              request.keep_alive(), head);
    } else if (request.method() != http::verb::get && !head) {
      Respond(http::status::method_not_allowed, "only GET and HEAD\n", request.version(),
              request.keep_alive(), head);
    } else {
      Respond(http::status::ok, render_(), request.version(), request.keep_alive(), head);
    }
  }

  void Respond(http::status status, std::string body, unsigned version, bool keep_alive,
               bool head) {
    response_.emplace(status, version);
    response_->set(http::field::server, "canopy");
    if (status == http::status::ok) {
      response_->set(http::field::content_type, std::string(kExpositionContentType));
    } else {
      response_->set(http::field::content_type, "text/plain; charset=utf-8");
    }
    if (status == http::status::method_not_allowed) response_->set(http::field::allow, "GET, HEAD");
    response_->keep_alive(keep_alive);
    const size_t length = body.size();
    if (!head) response_->body() = std::move(body);
    response_->content_length(length);
    stream_.expires_after(ToChrono(options_.write_timeout));
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const MetricsHttpServerOptions& options_;
  const std::function<std::string()>& render_;
  std::atomic<int>& active_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

}  // namespace

class MetricsHttpServer::Impl {
 public:
  Impl(MetricsHttpServerOptions options, std::function<std::string()> render)
      : options_(options), render_(std::move(render)), work_(io_.get_executor()), retry_(io_) {}

  ~Impl() { Stop(); }

  absl::StatusOr<HostPort> Start(const HostPort& address) {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("metrics server already started");
    beast::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints =
        resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
    if (ec || endpoints.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot resolve metrics address ", address.ToString(), ": ", ec.message()));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.emplace(io_);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor_.reset();
      return absl::UnavailableError(absl::StrCat("cannot listen on metrics address ",
                                                 address.ToString(), ": ", ec.message()));
    }
    HostPort bound{address.host, acceptor_->local_endpoint().port()};
    started_ = true;
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return bound;
  }

  void Stop() {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    work_.reset();
    io_.stop();  // abandons open connections; they close when io_ is destroyed
    if (thread_.joinable()) thread_.join();
    // The I/O thread is gone: nothing else touches the acceptor now.
    beast::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
  }

 private:
  void Accept() {
    acceptor_->async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: try again shortly instead of spinning.
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](beast::error_code e) {
          if (!e && acceptor_->is_open()) Accept();
        });
        return;
      }
      if (active_.load() >= options_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        active_.fetch_add(1);
        std::make_shared<Connection>(std::move(socket), options_, render_, active_)->Read();
      }
      Accept();
    });
  }

  const MetricsHttpServerOptions options_;
  const std::function<std::string()> render_;
  std::atomic<int> active_{0};  // outlives io_: connections decrement it
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer retry_;
  std::optional<tcp::acceptor> acceptor_;  // used on the I/O thread after Start
  std::thread thread_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

MetricsHttpServer::MetricsHttpServer(MetricsHttpServerOptions options,
                                     std::function<std::string()> render)
    : impl_(std::make_unique<Impl>(options, std::move(render))) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::StatusOr<HostPort> MetricsHttpServer::Start(const HostPort& address) {
  return impl_->Start(address);
}

void MetricsHttpServer::Stop() { impl_->Stop(); }

absl::StatusOr<std::string> StartMetricsEndpoint(MetricsHttpServer& server, const HostPort& address,
                                                 bool given_explicitly) {
  absl::StatusOr<HostPort> bound = server.Start(address);
  if (bound.ok()) return " metrics=" + bound->ToString();
  if (given_explicitly) return bound.status();
  spdlog::warn("{}; serving no /metrics", std::string(bound.status().message()));
  return std::string();
}

}  // namespace canopy::ops
