#include "node/scheduler.h"

#include <chrono>
#include <memory>

#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"

namespace canopy::node {

void AsioScheduler::After(absl::Duration delay, std::function<void()> task) {
  auto timer = std::make_shared<boost::asio::steady_timer>(
      io_, std::chrono::microseconds(absl::ToInt64Microseconds(delay)));
  timer->async_wait([timer, task = std::move(task)](const boost::system::error_code& ec) {
    if (!ec) task();
  });
}

void AsioScheduler::Post(std::function<void()> task) { boost::asio::post(io_, std::move(task)); }

}  // namespace canopy::node
